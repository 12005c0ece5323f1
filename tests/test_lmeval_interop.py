"""lm-evaluation-harness and `dentro eval` agree (issue 12's interoperability check).

A throwaway model, trained for a second on half of the items, is exported with dentro's HF export
and scored on the same local ARC and HellaSwag files twice: by lm-eval's `hf` model, running
lm-eval's own arc_easy and hellaswag task definitions pointed at the files, and by `dentro eval`.
The two must give the same accuracy and acc_norm, the same answer on every item, and per-option
log-likelihoods within 1e-4.

One setting is needed on lm-eval's side: dentro scores every context after <|endoftext|> (the
document start the model was trained after), and the exported tokenizer has no BOS token, so
lm-eval is given that token as its system instruction (`--system_instruction "<|endoftext|>"`),
which it writes in front of the context verbatim. Without it lm-eval scores the same strings with
no prefix: that run is checked against dentro's scorer with an empty prefix.

Skipped when lm-eval is not installed (pip install -e '.[lmeval]'); DENTRO_REQUIRE_LMEVAL=1
(`make interop-lmeval`) turns the skip into a failure, so CI cannot pass by skipping.
"""

import importlib.util
import json
import os
import random
import time
from pathlib import Path

import pytest
import torch

from dentro import cli
from dentro.eval import tasks as T
from dentro.export.hf import export_hf
from dentro.model.checkpoint import save_checkpoint
from dentro.model.gpt import GPT, ModelConfig
from dentro.tokenizer.bpe import train_tokenizer

# find_spec, not import: collecting the suite stays fast. lm-eval's hf model also needs accelerate.
missing = [m for m in ("lm_eval", "accelerate") if importlib.util.find_spec(m) is None]
if missing:
    why = f"{' and '.join(missing)} not installed: pip install -e '.[lmeval]' (or run make interop-lmeval)"
    if os.environ.get("DENTRO_REQUIRE_LMEVAL") == "1":
        pytest.fail(f"DENTRO_REQUIRE_LMEVAL=1 but {why}", pytrace=False)
    pytest.skip(why, allow_module_level=True)
pytest.importorskip("transformers")

EOT = "<|endoftext|>"
LOGLIK_TOL = 1e-4  # nats per option; the two implementations differ only in float32 rounding

# ---- the items: ARC as the hub's rows, HellaSwag as its authors' JSONL ----------------------------

CAPITALS = [("France", "Paris"), ("Brazil", "Brasília"), ("Peru", "Lima"), ("Japan", "Tokyo"),
            ("Poland", "Warsaw"), ("Iceland", "Reykjavík"), ("Colombia", "Bogotá"), ("Egypt", "Cairo"),
            ("Kenya", "Nairobi"), ("Switzerland", "Bern"), ("Turkey", "Ankara"), ("Norway", "Oslo")]
COLOURS = [("the sky", "blue"), ("grass", "green"), ("snow", "white"), ("coal", "black"),
           ("a banana", "yellow"), ("a tomato", "red"), ("a crème brûlée", "golden brown")]
NUMBERS = "zero one two three four five six seven eight nine ten eleven twelve".split()


def arc_rows(rng: random.Random) -> list[dict]:
    """36 ARC items with 3 to 5 options, lettered A.. or numbered 1.. as ARC's are."""
    facts = [(f"What is the capital of {c}?", a, [x for _, x in CAPITALS if x != a]) for c, a in CAPITALS]
    facts += [(f"What colour is {t}?", a, [x for _, x in COLOURS if x != a]) for t, a in COLOURS]
    for _ in range(17):
        x, y = rng.randint(0, 6), rng.randint(0, 6)
        facts.append((f"What is {NUMBERS[x]} plus {NUMBERS[y]}?", NUMBERS[x + y],
                      [n for n in NUMBERS if n != NUMBERS[x + y]]))
    rows = []
    for i, (question, answer, others) in enumerate(facts):
        options = rng.sample(others, rng.randint(2, 4)) + [answer]
        rng.shuffle(options)
        labels = list("ABCDE" if i % 4 else "12345")[:len(options)]
        rows.append({"id": f"Local-{i}", "question": question,
                     "choices": {"text": options, "label": labels}, "answerKey": labels[options.index(answer)]})
    return rows


SCENES = [  # activity_label, ctx_a ({s}: the subject), ctx_b, the true ending
    ("Cooking", "{s} cracks two eggs into a bowl.", "then", "whisks them with a fork."),
    ("Gardening", "{s} fills a can with water.", "", "waters the roses [step] slowly, one by one."),
    ("Fishing", "{s} sits by the lake with a rod.", "then", "casts the line into the water."),
    ("Baking bread", "[header] How to bake bread [title] Mix flour and water.", "you",
     "knead the dough for ten minutes."),
    ("Café", "{s} orders a coffee at the café.", "the waiter", "brings it with a croissant."),
    ("Skiing", "{s} stands at the top of the slope.", "then", "pushes off and skis down the hill."),
]
SUBJECTS = ["A man", "A woman", "A girl", "The chef"]


def hellaswag_rows(rng: random.Random) -> list[dict]:
    """24 HellaSwag items: each scene with each subject, the other scenes' endings as distractors."""
    rows = []
    for i, ((activity, ctx_a, ctx_b, ending), s) in enumerate((sc, s) for sc in SCENES for s in SUBJECTS):
        endings = rng.sample([e for *_, e in SCENES if e != ending], 3) + [ending]
        rng.shuffle(endings)
        ctx_a = ctx_a.format(s=s)
        rows.append({"ind": i, "activity_label": activity, "ctx_a": ctx_a, "ctx_b": ctx_b,
                     "ctx": f"{ctx_a} {ctx_b.capitalize()}".strip(), "endings": endings,
                     "label": endings.index(ending), "split": "val", "split_type": "indomain"})
    return rows


def write_task_files(folder: Path, files: dict[str, Path], cache: Path) -> None:
    """lm-eval task YAMLs: lm-eval's own arc_easy and hellaswag (prompt, choices, target and
    HellaSwag's text cleaning), with the data swapped for the local files and one test split."""
    import lm_eval.tasks

    builtin = Path(lm_eval.tasks.__file__).parent

    def quote(path: Path) -> str:  # a JSON string is a YAML string, whatever characters the path holds
        return json.dumps(str(path))

    for task, source in (("arc", "arc/arc_easy.yaml"), ("hellaswag", "hellaswag/hellaswag.yaml")):
        (folder / f"{task}_local.yaml").write_text(
            f"include: {quote(builtin / source)}\n"
            f"task: dentro_{task}_local\n"
            "tag: []\n"
            "dataset_path: json\n"
            "dataset_name: null\n"
            f"dataset_kwargs:\n  data_files:\n    test: {quote(files[task])}\n  cache_dir: {quote(cache)}\n"
            "training_split: null\nvalidation_split: null\ntest_split: test\n", encoding="utf-8")


# ---- the model ---------------------------------------------------------------------------------------

def train_tiny(items: dict[str, list[T.Choice]]):
    """A depth-1 model trained for 150 full-batch AdamW steps on the true answers of the first
    half of each task's items, so that it knows some answers and guesses the rest (a second or
    two on one thread). The tokenizer is trained on every item's text."""
    texts = {task: [it.context + it.delimiter + it.options[it.label] for it in its] for task, its in items.items()}
    tok = train_tokenizer([t for ts in texts.values() for t in ts] * 4, vocab_size=400)
    torch.manual_seed(0)
    model = GPT(ModelConfig.from_depth(1, vocab_size=tok.vocab_size, max_seq_len=128))
    docs = [[tok.eot_id] + tok.encode(t) + [tok.eot_id] for ts in texts.values() for t in ts[:len(ts) // 2]]
    width = max(map(len, docs))
    x = torch.full((len(docs), width), tok.eot_id)  # (B, T), right-padded
    y = torch.full((len(docs), width), -1)  # next-token targets, -1 on the padding
    for b, d in enumerate(docs):
        x[b, :len(d)] = torch.tensor(d)
        y[b, :len(d) - 1] = torch.tensor(d[1:])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), tok, loss.item()


@pytest.fixture(scope="module")
def exported(tmp_path_factory, one_thread):
    tmp = tmp_path_factory.mktemp("lmeval")
    rng = random.Random(12)
    files = {"arc": tmp / "arc.jsonl", "hellaswag": tmp / "hellaswag.jsonl"}
    for task, rows in (("arc", arc_rows(rng)), ("hellaswag", hellaswag_rows(rng))):
        files[task].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    items = {task: T.load_task(task, f).items for task, f in files.items()}
    model, tok, loss = train_tiny(items)
    save_checkpoint(tmp / "ckpt", model, tok)
    export_hf(tmp / "ckpt", tmp / "hf")
    (tmp / "tasks").mkdir()
    write_task_files(tmp / "tasks", files, tmp / "hf_datasets_cache")
    print(f"\n[interop] trained: loss {loss:.3f}; {len(items['arc'])} ARC + {len(items['hellaswag'])} HellaSwag items")
    return {"tmp": tmp, "files": files, "items": items, "model": model, "tok": tok}


def run_lm_eval(exported, system_instruction: str | None) -> tuple[dict, float]:
    """lm-eval's results for both local tasks, through its Python API, offline."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    tmp = exported["tmp"]
    with pytest.MonkeyPatch.context() as mp:
        for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
            mp.setenv(var, "1")
        t0 = time.time()
        out = lm_eval.simple_evaluate(
            model="hf", model_args={"pretrained": str(tmp / "hf"), "tokenizer": str(tmp / "hf"), "dtype": "float32"},
            tasks=["dentro_arc_local", "dentro_hellaswag_local"], device="cpu", batch_size=16,
            task_manager=TaskManager(include_path=str(tmp / "tasks"), include_defaults=False),
            system_instruction=system_instruction,
            log_samples=True, random_seed=0, numpy_random_seed=0, torch_random_seed=0, fewshot_random_seed=0)
        return out, time.time() - t0


@pytest.fixture(scope="module")
def lm_eval_run(exported):
    return run_lm_eval(exported, system_instruction=EOT)


def lm_eval_logliks(out: dict, task: str) -> list[tuple[str, list[str], list[float]]]:
    """Per item, in file order: (context, continuations, log-likelihoods) as lm-eval scored them."""
    samples = sorted(out["samples"][f"dentro_{task}_local"], key=lambda s: s["doc_id"])
    return [(s["arguments"][0][0], [a[1] for a in s["arguments"]], [float(r[0][0]) for r in s["resps"]])
            for s in samples]


def compare(ours: list[dict], theirs: list[tuple], items: list[T.Choice]) -> dict:
    """Largest log-likelihood gap, per-item disagreements, and the smallest margin between the
    best and the second-best option (the gap must stay well below it for the argmax to be stable)."""
    gap, margin, differ = 0.0, float("inf"), []
    for r, (_, _, lls), it in zip(ours, theirs, items):
        gap = max(gap, max(abs(a - b) for a, b in zip(r["loglik"], lls)))
        norm = [v / len(o) for v, o in zip(lls, it.options)]  # lm-eval's acc_norm: per character
        for scores in (lls, norm):
            top = sorted(scores, reverse=True)
            margin = min(margin, top[0] - top[1])
        best, best_norm = max(range(len(lls)), key=lls.__getitem__), max(range(len(lls)), key=norm.__getitem__)
        if (best, best_norm) != (r["pred"], r["pred_norm"]):
            differ.append(r["id"])
    return {"max_gap": gap, "min_margin": margin, "differ": differ}


@pytest.mark.parametrize("task", ["arc", "hellaswag"])
def test_lm_eval_and_dentro_eval_agree(exported, lm_eval_run, task, capsys):
    out, seconds = lm_eval_run
    tmp, items = exported["tmp"], exported["items"][task]
    assert cli.main(["eval", "--run", str(tmp / "run"), "--checkpoint", str(tmp / "ckpt"), "--task", task,
                     "--data", str(exported["files"][task])]) == 0
    ours = json.loads((tmp / "run" / "eval" / "ckpt" / f"{task}.json").read_text())
    theirs = lm_eval_logliks(out, task)
    assert len(theirs) == len(ours["items"]) == len(items)
    # the same strings: <|endoftext|> + dentro's context, and " " + each option
    for (context, continuations, _), it in zip(theirs, items):
        assert context == EOT + it.context
        assert continuations == [it.delimiter + o for o in it.options]
    c = compare(ours["items"], theirs, items)
    res = out["results"][f"dentro_{task}_local"]
    with capsys.disabled():
        print(f"\n[interop] {task}: {len(items)} items; lm-eval acc {res['acc,none']:.4f} acc_norm "
              f"{res['acc_norm,none']:.4f}; dentro acc {ours['accuracy']:.4f} acc_norm {ours['acc_norm']:.4f}; "
              f"max |loglik gap| {c['max_gap']:.2e}, smallest top-2 margin {c['min_margin']:.2e}; "
              f"lm-eval took {seconds:.1f}s for both tasks")
    assert c["max_gap"] < LOGLIK_TOL, f"log-likelihoods differ by {c['max_gap']:.2e}"
    assert not c["differ"], f"lm-eval and dentro pick different options on items {c['differ']}"
    assert res["acc,none"] == pytest.approx(ours["accuracy"], abs=1e-12)
    assert res["acc_norm,none"] == pytest.approx(ours["acc_norm"], abs=1e-12)
    assert 0 < ours["accuracy"] < 1, "the check means more when the model gets some items right and some wrong"


def test_without_the_document_start_lm_eval_scores_as_dentro_with_no_prefix(exported, capsys):
    """What the <|endoftext|> setting changes: lm-eval's default run (no prefix) equals dentro's
    scorer with prefix=[], token for token; its log-likelihoods differ from `dentro eval`'s."""
    out, _ = run_lm_eval(exported, system_instruction=None)
    for task in ("arc", "hellaswag"):
        items = exported["items"][task]
        bare = T.score_choices(exported["model"], exported["tok"], items, prefix=[])
        theirs = lm_eval_logliks(out, task)
        assert [ctx for ctx, _, _ in theirs] == [it.context for it in items]
        c = compare(bare, theirs, items)
        assert c["max_gap"] < LOGLIK_TOL and not c["differ"]
        with_eot = T.score_choices(exported["model"], exported["tok"], items)
        shift = max(abs(a - b) for x, y in zip(bare, with_eot) for a, b in zip(x["loglik"], y["loglik"]))
        flips = sum((x["pred"], x["pred_norm"]) != (y["pred"], y["pred_norm"]) for x, y in zip(bare, with_eot))
        with capsys.disabled():
            print(f"\n[interop] {task} without {EOT}: max |loglik shift| {shift:.3f}; {flips} of {len(items)} "
                  f"items change an answer (acc or acc_norm)")
        assert shift > LOGLIK_TOL  # the prefix does matter: the setting is not cosmetic


@pytest.mark.parametrize("context", [
    "Answer:", "Answer: ", "Answer:  ", "Answer:\n", "Answer",
    "Pergunta: olá?\n \t",  # "?\n" is one token of the whole string: it straddles the boundary
])
def test_encode_pair_splits_context_and_option_as_lm_eval(exported, context):
    """dentro's encode_pair against lm-eval's own _encode_pair (TemplateLM's, which its hf model
    uses), on the tokenizer of the check: all trailing whitespace moves to the option, and a token
    across the boundary is split the way lm-eval splits it."""
    from lm_eval.api.model import TemplateLM

    tok = exported["tok"]

    class Shim:  # all that _encode_pair reads of an lm-eval model
        backend = "causal"
        tok_encode = staticmethod(tok.encode)

    assert T.encode_pair(tok, context, " yes") == TemplateLM._encode_pair(Shim(), context, " yes")
