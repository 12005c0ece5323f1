"""The training loop (dentro/train/loop.py) and `dentro pretrain`: schedule, parameter groups,
bits per byte, exact resume, DDP on two gloo processes, bad inputs."""

import json
import math
import os
import shutil
import socket

import pytest
import torch
import torch.multiprocessing as mp

from dentro.train import loop as T
from dentro.train.data import BatchLoader, DocumentIndex, ShardSpec, tokenize_corpus
from dentro.errors import UserError
from dentro.model.gpt import GPT, ModelConfig
from dentro.tokenizer.bpe import Tokenizer, train_tokenizer
from test_data import make_corpus, make_texts


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run folder with data/corpus and tokenizer/, as the earlier stages leave it, plus shards."""
    root = tmp_path_factory.mktemp("run")
    texts = make_texts(240, seed=1)
    make_corpus(root / "data" / "corpus", texts, files=1)
    tok = train_tokenizer(texts, vocab_size=384)
    tok.save(root / "tokenizer" / "tokenizer.dentro.json")
    tokenize_corpus(root / "data" / "corpus", root / "tokenizer" / "tokenizer.dentro.json", root / "tokens",
                    ShardSpec(val_fraction=0.1), progress=False)
    return root


def small_cfg(**kw):
    base = dict(seq_len=32, device_batch_size=2, total_batch_tokens=2 * 32 * 2, max_steps=6, warmup_steps=2,
                eval_every=3, eval_tokens=4 * 32, sample_every=0, grad_clip=1.0, matrix_lr=0.03)
    return T.TrainConfig(**{**base, **kw})


def build(root, cfg, rank=0, world=1, seed=0):
    tok = Tokenizer.load(root / "tokenizer")
    torch.manual_seed(seed)
    model = GPT(ModelConfig.from_depth(1, tok.vocab_size, cfg.seq_len))
    idx, vidx = DocumentIndex(root / "tokens", "train"), DocumentIndex(root / "tokens", "val")
    loader = BatchLoader(idx, cfg.device_batch_size, cfg.seq_len, rank=rank, world_size=world, seed=cfg.seed)

    def val():
        return BatchLoader(vidx, cfg.device_batch_size, cfg.seq_len, rank=rank, world_size=world, shuffle=False)

    return model, tok, loader, val


def test_schedule_warms_up_holds_and_decays_to_the_floor():
    cfg = T.TrainConfig(warmup_steps=10, warmdown_frac=0.4, final_lr_frac=0.1, max_steps=100)
    m = [T.lr_multiplier(s, s / 100, cfg) for s in range(101)]
    assert m[0] == pytest.approx(0.1) and m[9] == 1.0 and m[30] == 1.0 and m[60] == 1.0
    assert m[80] == pytest.approx(0.1 + 0.9 * 0.5) and m[100] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(m[60:], m[61:]))
    # a time budget drives the same curve: progress 0.8 of the budget at step 20 is mid-decay
    assert T.lr_multiplier(20, 0.8, cfg) == pytest.approx(0.55)


def test_every_parameter_in_exactly_one_explicit_group():
    for tie in (False, True):
        model = GPT(ModelConfig.from_depth(2, 300, 32, tie_word_embeddings=tie))
        g = T.param_groups(model)
        ids = [id(p) for ps in g.values() for p in ps]
        assert len(ids) == len(set(ids)) == len(list(model.parameters()))
        assert g["embedding"] == [model.embed_tokens.weight]
        assert g["lm_head"] == ([] if tie else [model.lm_head.weight])
        assert all(p.ndim == 2 for p in g["matrices"]) and all(p.ndim == 1 for p in g["scalars"])
        adamw, muon = T.build_optimizers(model, T.TrainConfig())
        assert isinstance(muon, torch.optim.Muon) and len(muon.param_groups[0]["params"]) == len(g["matrices"]) == 14


def _muon_trajectory(make, steps=3):
    torch.manual_seed(0)
    ps = [torch.nn.Parameter(torch.randn(48, 16)), torch.nn.Parameter(torch.randn(16, 40))]
    opt = make(ps)
    for s in range(steps):
        for i, p in enumerate(ps):
            p.grad = torch.randn(p.shape, generator=torch.Generator().manual_seed(10 * s + i))
        opt.step()
    return [p.detach().clone() for p in ps], opt


def test_muon_is_torchs_to_the_bit_in_bf16_and_close_in_fp32():
    """dentro's Muon orthogonalises in the training's matmul dtype. In bf16 it must be exactly
    torch.optim.Muon (so runs on CPUs with native bf16 and on GPUs are unchanged); in fp32 it is the
    same update computed more precisely (a tall and a wide matrix, Nesterov, weight decay, 3 steps)."""
    from dentro.train.muon import Muon
    kw = dict(lr=0.02, weight_decay=0.1, momentum=0.95, nesterov=True, adjust_lr_fn="original")
    ref, ref_opt = _muon_trajectory(lambda ps: torch.optim.Muon(ps, **kw))
    ours, ours_opt = _muon_trajectory(lambda ps: Muon(ps, ns_dtype=torch.bfloat16, **kw))
    fp32, _ = _muon_trajectory(lambda ps: Muon(ps, ns_dtype=torch.float32, **kw))
    start, _ = _muon_trajectory(lambda ps: Muon(ps, ns_dtype=torch.float32, **kw), steps=0)
    for r, o, f, s in zip(ref, ours, fp32, start):
        assert torch.equal(r, o)
        moved = (r - s).norm()
        assert moved > 0.05 and (f - r).norm() < 0.05 * moved   # bf16 rounding only
    # the same optimiser state as torch's: a checkpoint moves between the two
    ref_state, our_state = ref_opt.state_dict(), ours_opt.state_dict()
    assert ref_state["state"].keys() == our_state["state"].keys()
    assert all(torch.equal(ref_state["state"][k]["momentum_buffer"], our_state["state"][k]["momentum_buffer"])
               for k in ref_state["state"])


def test_muon_orthogonalises_in_the_matmul_dtype(monkeypatch):
    """--precision fp32, or auto on a CPU without native bf16: fp32 (bf16 is emulated there, ~100x
    slower); bf16 when asked, or auto on a CPU that has it."""
    model = GPT(ModelConfig.from_depth(2, 300, 32))
    muon = lambda cfg: T.build_optimizers(model, cfg)[1]  # noqa: E731
    assert muon(T.TrainConfig(precision="fp32")).ns_dtype == torch.float32
    assert muon(T.TrainConfig(precision="bf16")).ns_dtype == torch.bfloat16
    monkeypatch.setattr(T, "native_bf16_cpu", lambda: False)
    assert muon(T.TrainConfig(precision="auto")).ns_dtype == torch.float32
    monkeypatch.setattr(T, "native_bf16_cpu", lambda: True)
    assert muon(T.TrainConfig(precision="auto")).ns_dtype == torch.bfloat16


def test_bits_per_byte_of_a_uniform_model_is_log2_vocab_over_bytes_per_token(run):
    """A model that outputs equal logits loses ln V nats on every token: bpb = ln V x (text tokens) /
    (ln 2 x their bytes). Checks the sums, the byte table and that <|endoftext|> targets are left out."""
    cfg = small_cfg()
    model, tok, _, val = build(run, cfg)

    class Uniform(torch.nn.Module):
        config = model.config

        def forward(self, idx, targets=None):
            return torch.zeros(*idx.shape, tok.vocab_size)

    lengths = torch.tensor(T._byte_lengths(tok, model))
    r = T.evaluate_bpb(Uniform(), val, 3, lengths, T.Dist(), T._nullcontext())
    loader = val()
    n_text, n_bytes = 0, 0
    for _ in range(3):
        _, y = loader.next_batch()
        b = lengths[y.reshape(-1)]
        n_text += int((b > 0).sum())
        n_bytes += int(b.sum())
    assert r["val_bpb"] == pytest.approx(math.log(tok.vocab_size) * n_text / (math.log(2) * n_bytes), rel=1e-6)
    assert r["val_loss"] == pytest.approx(math.log(tok.vocab_size), rel=1e-6)


def test_training_lowers_the_loss_and_writes_metrics(run, tmp_path):
    cfg = small_cfg(max_steps=12, eval_every=6)
    model, tok, loader, val = build(run, cfg)
    r = T.train(model, tok, loader, val, cfg, out_dir=tmp_path, prompts=["Ana Souza nasceu em"])
    assert r.steps == 12 and r.tokens == 12 * cfg.total_batch_tokens and r.stopped_by == "steps"
    assert sum(r.losses[-3:]) / 3 < r.losses[0] - 1.0
    assert [e["step"] for e in r.evals] == [6, 12] and r.evals[1]["val_bpb"] < r.evals[0]["val_bpb"]
    recs = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in recs if "loss" in x] == list(range(1, 13))
    assert any("samples" in x for x in recs) and isinstance(r.samples["Ana Souza nasceu em"], str)


def test_precision_picks_bf16_autocast_only_where_asked_or_native(monkeypatch):
    cpu = torch.device("cpu")
    assert T.training_dtype(cpu, "fp32") == torch.float32 and T.training_dtype(cpu, "bf16") == torch.bfloat16
    assert T.training_dtype(torch.device("cuda"), "auto") == torch.bfloat16
    for native in (True, False):
        monkeypatch.setattr(T, "native_bf16_cpu", lambda: native)
        assert T.training_dtype(cpu, "auto") == (torch.bfloat16 if native else torch.float32)
    with T.autocast_context(cpu, "bf16"):
        assert torch.nn.Linear(4, 4)(torch.randn(2, 4)).dtype == torch.bfloat16  # the matmul ran in bf16
    with T.autocast_context(cpu, "fp32"), T.autocast_context(cpu, "bf16", fsdp=True):  # FSDP2 casts instead
        assert torch.nn.Linear(4, 4)(torch.randn(2, 4)).dtype == torch.float32
    with pytest.raises(UserError, match="choose auto, bf16 or fp32"):
        T.training_dtype(cpu, "fp16")


def test_bf16_and_fp32_training_agree_in_their_first_steps(run):
    """bf16 autocast changes the rounding of the matmuls, not the maths: the first losses match fp32's
    closely (the same init, the same rows) and both fall."""
    losses = {}
    for precision in ("fp32", "bf16"):
        cfg = small_cfg(max_steps=6, eval_every=0, precision=precision)
        model, tok, loader, val = build(run, cfg)
        losses[precision] = T.train(model, tok, loader, val, cfg).losses
    assert abs(losses["bf16"][0] - losses["fp32"][0]) < 0.02  # the same model at init, bf16 matmuls
    assert all(abs(a - b) < 0.15 for a, b in zip(losses["bf16"], losses["fp32"]))
    assert losses["bf16"][-1] < losses["bf16"][0] - 0.5


def test_a_failing_compile_falls_back_to_eager_with_a_warning(run, monkeypatch):
    class Broken(torch.nn.Module):  # what torch.compile returns, failing as a missing compiler would
        def __init__(self, m):
            super().__init__()
            self._orig_mod = m

        def forward(self, *a):
            raise RuntimeError("inductor: no working C++ compiler")

    monkeypatch.setattr(T.torch, "compile", Broken)
    cfg = small_cfg(max_steps=3, eval_every=0, compile=True)
    model, tok, loader, val = build(run, cfg)
    with pytest.warns(UserWarning, match="torch.compile failed .*eager mode"):
        r = T.train(model, tok, loader, val, cfg)
    assert r.steps == 3 and all(math.isfinite(x) for x in r.losses)


def test_compile_by_default_only_on_gpu_or_long_cpu_budgets():
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert T.should_compile(T.TrainConfig(), gpu) and not T.should_compile(T.TrainConfig(), cpu)
    assert not T.should_compile(T.TrainConfig(max_minutes=2.0), cpu)  # compilation would eat the budget
    assert not T.should_compile(T.TrainConfig(compile=False, max_minutes=13.0), gpu)
    assert T.should_compile(T.TrainConfig(compile=True), cpu)
    import shutil

    has_cxx = any(shutil.which(c) for c in ("g++", "c++", "clang++"))
    assert T.should_compile(T.TrainConfig(max_minutes=13.0), cpu) == has_cxx


def test_a_time_budget_stops_the_run_and_the_schedule_decays_within_it(run, tmp_path, monkeypatch):
    clock = iter(range(10**6))  # a fake clock: each reading is one second later, so the test is not timing-bound
    monkeypatch.setattr(T.time, "perf_counter", lambda: float(next(clock)))
    cfg = small_cfg(max_steps=10**6, max_minutes=0.5, warmup_steps=1, eval_every=0)
    model, tok, loader, val = build(run, cfg)
    r = T.train(model, tok, loader, val, cfg, out_dir=tmp_path)
    assert r.stopped_by == "time" and 5 <= r.steps < 30 and len(r.evals) == 1
    mults = [json.loads(l)["lr_mult"] for l in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"lr_mult"' in l]
    assert mults[0] == 1.0 and mults[-1] < 0.3  # decayed toward 0 as the 30 s budget ran out
    assert all(a >= b for a, b in zip(mults, mults[1:]))


def test_resume_from_a_checkpoint_continues_exactly(run, tmp_path):
    """Save at step 3 of a 6-step run (decaying schedule), load it into a new model and continue:
    steps 4-6 have bit-identical losses (CPU, fp32)."""
    from dentro.model.checkpoint import load_checkpoint, save_checkpoint

    cfg = small_cfg(max_steps=6, save_every=3, warmdown_frac=0.5)
    model, tok, loader, val = build(run, cfg)

    def save(m, state):
        save_checkpoint(tmp_path / f"ckpt{state['step']}", m, tok, state)

    full = T.train(model, tok, loader, val, cfg, save_fn=save)
    model2, tok2, state = load_checkpoint(tmp_path / "ckpt3")
    assert state["step"] == 3
    _, _, loader2, _ = build(run, cfg, seed=123)  # a loader in a different position: the state restores it
    resumed = T.train(model2.train(), tok2, loader2, val, cfg, train_state=state)
    assert resumed.losses == full.losses[3:]
    assert resumed.evals[-1]["val_bpb"] == full.evals[-1]["val_bpb"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank, world, port, root, cfg_kws, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    import torch.distributed as dist

    d = T.setup_distributed("cpu")
    results = []
    for kw in cfg_kws:  # one process group for every mode: starting processes is the slow part
        cfg = small_cfg(**kw)
        model, tok, loader, val = build(root, cfg, rank=d.rank, world=d.world_size)
        r = T.train(model, tok, loader, val, cfg, d=d)
        results.append({"losses": r.losses, "bpb": r.evals[-1]["val_bpb"]})
    if d.master:
        with open(out, "w") as f:
            json.dump(results, f)
    dist.barrier()  # neither rank leaves while the other may still be talking to gloo
    # then leave without tearing gloo down: its teardown in one rank while the other exits
    # aborted a rank once in a fresh clone's `make test` ("terminate called without an active
    # exception", SIGABRT); the results are written and the OS closes the sockets
    os._exit(0)


def test_two_gloo_ranks_match_one_process_with_the_same_global_batch(run, tmp_path):
    """2 ranks x 2 rows x 1 micro-step vs 1 process x 2 rows x 2 accumulation steps: same rows per
    step (see BatchLoader), so the same losses up to float summation order. DDP and FSDP2 (gloo, CPU)."""
    kws = [dict(max_steps=4, fsdp=fsdp, eval_every=0) for fsdp in (False, True)]
    out = tmp_path / "ranks.json"
    mp.spawn(_rank_main, args=(2, _free_port(), run, kws, str(out)), nprocs=2, join=True)
    got = json.loads(out.read_text())
    cfg = small_cfg(**kws[0])
    model, tok, loader, val = build(run, cfg)
    ref = T.train(model, tok, loader, val, cfg)
    assert ref.losses[-1] < ref.losses[0] - 0.5
    # FSDP2 sums gradients in another order; Muon orthogonalises in bf16, which can round those
    # fp32 differences apart: 1e-3 relative for it, 1e-4 for DDP.
    for mode, g, tol in zip(("ddp", "fsdp2"), got, (1e-4, 1e-3)):
        assert g["losses"] == pytest.approx(ref.losses, rel=tol), mode
        assert g["bpb"] == pytest.approx(ref.evals[-1]["val_bpb"], rel=1e-3), mode


# ---------------------------------------------------------------------------- the command

def _pretrain(run_dir, **kw):
    from dentro.commands.pretrain import pretrain

    return pretrain(run_dir, "micro", progress=False, **kw)


@pytest.fixture()
def fresh_run(run, tmp_path):
    r = tmp_path / "r"
    for sub in ("data", "tokenizer"):
        shutil.copytree(run / sub, r / sub)
    return r


def test_pretrain_micro_writes_a_loadable_checkpoint_and_resumes_exactly(fresh_run):
    from dentro.model.checkpoint import load_checkpoint
    from dentro.commands.pretrain import plot_loss

    # warmdown_frac=0: the schedule does not depend on max_steps, so 4 steps + 4 resumed == 8 steps
    full = _pretrain(fresh_run, overrides={"max_steps": 8, "warmdown_frac": 0.0})
    f = full["figures"]
    assert f["steps"] == 8 and f["params"] > 0 and 0 < f["val_bpb"] < 10 and f["tokens_trained"] == 8 * 128
    out = fresh_run / "pretrain"
    assert (out / "loss.png").stat().st_size > 1000 and (out / "tokens" / "meta.json").exists()
    model, tok, state = load_checkpoint(out / "checkpoint")
    assert state["step"] == 8 and tok.vocab_size == model.config.vocab_size
    losses_full = [json.loads(l)["loss"] for l in (out / "metrics.jsonl").read_text().splitlines() if '"loss"' in l]

    shutil.rmtree(out / "checkpoint")
    _pretrain(fresh_run, overrides={"max_steps": 4, "warmdown_frac": 0.0})
    again = _pretrain(fresh_run, overrides={"max_steps": 8}, resume=True)
    recs = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [x["loss"] for x in recs if "loss" in x]
    assert [x["step"] for x in recs if "loss" in x] == list(range(1, 9))  # nothing doubled by the resume
    assert losses == losses_full
    assert again["figures"]["val_bpb"] == f["val_bpb"]
    assert plot_loss(out / "metrics.jsonl", out / "loss2.png").exists()


def test_pretrain_bad_inputs_say_what_to_do(fresh_run, tmp_path):
    with pytest.raises(UserError, match="dentro data"):
        _pretrain(tmp_path / "empty_run")
    (tmp_path / "no_tok" / "data").mkdir(parents=True)
    shutil.copytree(fresh_run / "data" / "corpus", tmp_path / "no_tok" / "data" / "corpus")
    with pytest.raises(UserError, match="dentro tokenizer train"):
        _pretrain(tmp_path / "no_tok")
    with pytest.raises(UserError, match="no checkpoint"):
        _pretrain(fresh_run, resume=True)
    with pytest.raises(ValueError, match="depth must be >= 1"):  # depth 0 is not "the preset's depth"
        _pretrain(fresh_run, depth=0)
    _pretrain(fresh_run, overrides={"max_steps": 2})
    with pytest.raises(UserError, match="seq_len"):
        _pretrain(fresh_run, overrides={"seq_len": 16}, resume=True)
    # another tokenizer than the checkpoint's
    other = train_tokenizer(make_texts(50, seed=9), vocab_size=300)
    other.save(fresh_run / "tokenizer" / "tokenizer.dentro.json")
    with pytest.raises(UserError, match="another tokenizer"):
        _pretrain(fresh_run, resume=True)
    # a damaged checkpoint
    (fresh_run / "pretrain" / "checkpoint" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(UserError, match="corrupt"):
        _pretrain(fresh_run, resume=True)
