"""Continuous batching (dentro/serve/slots.py, scheduler.py): sequences that join and leave a shared
batch between steps get exactly the tokens they get alone."""

import threading
import time

import pytest
import torch

from dentro.model.engine import Sampling, generate_all
from dentro.model.gpt import GPT, ModelConfig
from dentro.serve.scheduler import Scheduler, Sequence, Token

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = GPT(ModelConfig(vocab_size=97, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        num_key_value_heads=2, head_dim=16, intermediate_size=96, max_position_embeddings=48))
    with torch.no_grad():
        m.lm_head.weight.mul_(30)  # clear greedy choices
    return m.eval()


def run(sched, prompts, max_tokens, delays, **kw):
    """Submit prompt i after delays[i] seconds; -> the tokens of each and its finish reason."""
    out = [[] for _ in prompts]
    finish = [None] * len(prompts)
    done = threading.Event()

    def emit_for(i):
        def emit(ev):
            assert isinstance(ev, Token), ev
            out[i].append(ev.id)
            if ev.finish:
                finish[i] = ev.finish
                if all(finish):
                    done.set()
        return emit

    for i, (p, d) in enumerate(zip(prompts, delays)):
        time.sleep(d)
        sched.submit([Sequence(index=0, prompt=p, max_tokens=min(max_tokens, 48 - len(p)),
                               sampling=Sampling(temperature=0), emit=emit_for(i), **kw)])
    assert done.wait(60)
    return out, finish


def test_joining_and_leaving_the_batch_changes_no_token(model):
    prompts = [[5, 17, 3], list(range(1, 30)), [88], [7, 8, 9, 10, 11, 12], list(range(40, 60)), [2, 2]]
    alone = [generate_all(model, p, max_tokens=min(20, 48 - len(p)), sampling=Sampling(temperature=0))[0]
             for p in prompts]
    sched = Scheduler(model, max_batch=3, max_queue=10).start()  # 6 prompts, 3 slots: some wait for a row
    try:
        got, finish = run(sched, prompts, 20, [0, 0.01, 0, 0.02, 0, 0.005])
    finally:
        sched.stop()
    assert got == alone
    assert finish == ["length"] * len(prompts)
    assert sched.slots.n == 0 and not sched.active


def test_window_fills_and_compacts(model):
    """Long sequences in a 48-position window: the shared write index hits the end and the rows shift left."""
    prompts = [list(range(1, 20)), [3, 4], list(range(20, 45))]
    alone = [generate_all(model, p, max_tokens=48 - len(p), sampling=Sampling(temperature=0))[0] for p in prompts]
    sched = Scheduler(model, max_batch=4, max_queue=4).start()
    try:
        got, _ = run(sched, prompts, 100, [0, 0.05, 0.1])
    finally:
        sched.stop()
    assert got == alone
    assert [len(g) for g in got] == [48 - len(p) for p in prompts]


def test_stop_ids_and_cancel_free_the_row(model):
    greedy = generate_all(model, [7, 8], max_tokens=20, sampling=Sampling(temperature=0))[0]
    stop = greedy[3]
    sched = Scheduler(model, max_batch=2, max_queue=0).start()
    try:
        got, finish = run(sched, [[7, 8]], 20, [0], stop_ids=frozenset({stop}))
        assert got[0] == greedy[:greedy.index(stop) + 1] and finish == ["stop"]
        seen = []
        s = Sequence(index=0, prompt=[1, 2], max_tokens=40, sampling=Sampling(temperature=0), emit=seen.append)
        sched.submit([s])
        while not seen:
            time.sleep(0.001)
        s.cancelled = True
        t0 = time.time()
        while sched.load() and time.time() - t0 < 5:
            time.sleep(0.001)
        assert sched.load() == 0 and len(seen) < 40  # freed long before its 40 tokens
    finally:
        sched.stop()


def test_seeded_sampling_does_not_depend_on_the_neighbours(model):
    def sample(neighbours):
        got = []
        sched = Scheduler(model, max_batch=4, max_queue=4).start()
        try:
            for p in neighbours:
                sched.submit([Sequence(index=0, prompt=p, max_tokens=15, sampling=Sampling(temperature=1.0),
                                       emit=lambda ev: None)])
            done = threading.Event()
            sched.submit([Sequence(index=0, prompt=[4, 5, 6], max_tokens=15, sampling=Sampling(temperature=1.0),
                                   seed=123, emit=lambda ev: (got.append(ev.id), ev.finish and done.set()))])
            assert done.wait(30)
        finally:
            sched.stop()
        return got

    assert sample([]) == sample([[1, 2, 3], [9] * 10, [30]])


def test_requests_joining_at_once_share_one_prefill(model):
    """Five sequences submitted together beside one already decoding are prefilled in one forward (left-padded
    to the longest prompt, which shifts the decoding row right) and get the tokens they get alone, greedy or
    seeded; the one that ends at its first token leaves from the middle of the joining rows."""
    specs = [([5, 17, 3], 12, Sampling(temperature=0), None), (list(range(1, 30)), 12, Sampling(temperature=1.0), 7),
             ([88], 1, Sampling(temperature=0), None), (list(range(40, 52)), 12, Sampling(temperature=0.8), 3),
             ([2, 2], 12, Sampling(temperature=0), None)]

    def submit_all(sched, group):
        """Submit the specs in one call; -> their token lists and an event set when all have finished."""
        out, left, done = [[] for _ in group], [len(group)], threading.Event()

        def emit_for(i):
            def emit(ev):
                assert isinstance(ev, Token), ev
                out[i].append(ev.id)
                if ev.finish:
                    left[0] -= 1
                    if not left[0]:
                        done.set()
            return emit

        sched.submit([Sequence(index=0, prompt=p, max_tokens=n, sampling=sp, seed=seed, emit=emit_for(i))
                      for i, (p, n, sp, seed) in enumerate(group)])
        return out, done

    sched = Scheduler(model, max_batch=6, max_queue=0).start()
    try:
        alone = []
        for spec in specs:
            out, done = submit_all(sched, [spec])
            assert done.wait(30)
            alone.append(out[0])
        before = sched.prefills
        neighbour, neighbour_done = submit_all(sched, [([7, 8, 9, 10], 30, Sampling(temperature=0), None)])
        while not neighbour[0]:
            time.sleep(0.001)
        got, done = submit_all(sched, specs)
        assert done.wait(30) and neighbour_done.wait(30)
    finally:
        sched.stop()
    assert sched.prefills - before == 2  # the neighbour's, then one for all five
    assert got == alone
    assert [len(g) for g in got] == [n for _, n, _, _ in specs]
