"""Benchmarks from local files: each published format read (bad records counted, not fatal),
multiple choice scored by length-normalised log-likelihood, batched scoring equal to one row at
a time, GSM8K by the final number, and `dentro eval` end to end on a throwaway model."""

import csv
import json
import math

import pytest
import torch

from dentro import cli
from dentro.eval import tasks as T


class Bytes:
    """A tokenizer of one token per byte; 256 is <|endoftext|>."""
    eot_id = 256

    def encode(self, text):
        return list(text.encode("utf-8"))

    def decode(self, ids):
        return bytes(i for i in ids if i < 256).decode("utf-8", "replace")


class Fake(torch.nn.Module):
    """The same next-byte distribution at every position: p("a") = 0.5, p(" ") = 0.2, p("b") = 0.1,
    the rest of the mass spread over the other bytes."""

    class config:
        max_position_embeddings = 64

    def __init__(self):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(1, 1)
        p = torch.full((257,), 0.2 / 254)
        p[ord("a")], p[ord(" ")], p[ord("b")] = 0.5, 0.2, 0.1
        self.logp = p.log()

    def forward(self, idx):
        return self.logp.expand(*idx.shape, 257).clone()  # (B, T, V)


def test_length_normalisation_picks_the_option_the_model_prefers_per_character():
    # " b": log .2 + log .1 = -3.91 (the best sum); " aaaaaa": log .2 + 6 log .5 = -5.77 but
    # -0.96 per character against -3.91 for "b": acc picks "b", acc_norm picks "aaaaaa".
    items = [T.Choice("x", "Pick:", ["aaaaaa", "b", "zzz"], label=0)]
    (r,) = T.score_choices(Fake(), Bytes(), items)
    assert r["loglik"][0] == pytest.approx(math.log(0.2) + 6 * math.log(0.5))
    assert r["loglik"][1] == pytest.approx(math.log(0.2) + math.log(0.1))
    assert r["pred"] == 1 and r["pred_norm"] == 0
    assert not r["correct"] and r["correct_norm"]
    s = T.summarize([r], T.chance_of(items))
    assert s["accuracy"] == 0 and s["acc_norm"] == 1 and s["acc_norm_centred"] == 1


def test_encode_pair_moves_the_context_spaces_to_the_option():
    ctx, cont = T.encode_pair(Bytes(), "Answer: ", "yes")
    assert bytes(ctx) == b"Answer:" and bytes(cont) == b" yes"
    ctx, cont = T.encode_pair(Bytes(), "Answer:\n \t", "yes")  # all whitespace, as lm-eval's str.rstrip()
    assert bytes(ctx) == b"Answer:" and bytes(cont) == b"\n \tyes"


@pytest.fixture(scope="module")
def tiny(one_thread):
    from dentro.model.gpt import GPT, ModelConfig
    from dentro.tokenizer.bpe import train_tokenizer

    texts = ["The cat sat on the mat. Question: what is two plus two? Answer: four."] * 30
    tok = train_tokenizer(texts, vocab_size=300)
    torch.manual_seed(0)
    model = GPT(ModelConfig.from_depth(1, vocab_size=tok.vocab_size, max_seq_len=48)).eval()
    return model, tok


def test_batched_scores_equal_one_at_a_time(tiny):
    model, tok = tiny
    items = [T.Choice(str(i), ctx, opts, 0) for i, (ctx, opts) in enumerate([
        ("The cat sat on the", ["mat.", "hat on a very long chair today", "x"]),
        ("Question: what is two plus two?\nAnswer:", ["four", "five", "two plus two is four, of course"]),
        ("A" * 70, ["b", "the end"]),  # longer than the context: cut from the left, both ways
    ])]
    one = T.score_choices(model, tok, items, one_at_a_time=True)
    for budget in (8192, 60):  # all rows in one batch, and a batch per row or two
        batched = T.score_choices(model, tok, items, batch_tokens=budget)
        for x, y in zip(one, batched):
            assert x["loglik"] == pytest.approx(y["loglik"], abs=1e-4)
            assert (x["pred"], x["pred_norm"]) == (y["pred"], y["pred_norm"])


def write_fixtures(d):
    hs = [{"ind": 1, "activity_label": "Cooking", "ctx_a": "A man cracks eggs.", "ctx_b": "he",
           "ctx": "A man cracks eggs. He", "endings": ["whisks them [title] well.", "flies away.", "sings.", "runs."],
           "label": 0},
          {"ctx": "The dog", "endings": ["barks.", "reads.", "flies.", "swims."], "label": "1"},
          {"ctx": "Test split", "endings": ["a", "b", "c", "d"], "label": ""}]  # unlabelled: skipped
    (d / "hellaswag.jsonl").write_text("\n".join(json.dumps(x) for x in hs) + "\n{broken\n", encoding="utf-8")
    arc = [{"id": "Q1", "question": {"stem": "What is two plus two?", "choices": [
                {"text": "four", "label": "A"}, {"text": "five", "label": "B"}, {"text": "six", "label": "C"}]},
            "answerKey": "A"},
           {"id": "Q2", "question": "Which is a cat?", "choices": {"text": ["cat", "mat", "hat", "sat"],
                                                                 "label": ["1", "2", "3", "4"]}, "answerKey": "1"}]
    (d / "arc.jsonl").write_text("\n".join(json.dumps(x) for x in arc) + "\n", encoding="utf-8")
    (d / "mmlu").mkdir()
    with open(d / "mmlu" / "basic_math_test.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["What is 2+2?", "3", "4", "5", "6", "B"])
        w.writerow(["Which, with a comma, is a cat?", "cat", "mat", "hat", "sat", "A"])
        w.writerow(["too", "few", "fields"])
    gsm = [{"question": "Ana has 3 pens and buys 4. How many?", "answer": "3 + 4 = <<3+4=7>>7\n#### 7"},
           {"question": "A farm has 1,200 hens.", "answer": "#### 1,200"},
           {"question": "No final line", "answer": "7"}]
    (d / "gsm8k.jsonl").write_text("\n".join(json.dumps(x) for x in gsm) + "\n", encoding="utf-8")


def test_the_published_formats_are_read(tmp_path):
    write_fixtures(tmp_path)
    hs = T.load_task("hellaswag", tmp_path / "hellaswag.jsonl")
    assert len(hs.items) == 2 and len(hs.bad) == 2  # the unlabelled item and the broken line
    assert hs.items[0].context == "Cooking: A man cracks eggs. He" and hs.items[0].options[0] == "whisks them. well."
    assert hs.items[1].label == 1
    arc = T.load_task("arc", tmp_path / "arc.jsonl")
    assert [it.options for it in arc.items] == [["four", "five", "six"], ["cat", "mat", "hat", "sat"]]
    assert arc.items[0].context == "Question: What is two plus two?\nAnswer:" and arc.items[1].label == 0
    assert T.chance_of(arc.items) == pytest.approx((1 / 3 + 1 / 4) / 2)
    mm = T.load_task("mmlu", tmp_path / "mmlu")
    assert len(mm.items) == 2 and len(mm.bad) == 1
    assert mm.items[0].context.startswith("The following are multiple choice questions (with answers) about basic math.")
    assert mm.items[0].context.endswith("\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:") and mm.items[0].label == 1
    assert mm.items[1].options == ["A", "B", "C", "D"] and "with a comma" in mm.items[1].context
    gs = T.load_task("gsm8k", tmp_path / "gsm8k.jsonl", limit=1)
    assert [p.answer for p in gs.items] == [7.0] and len(gs.bad) == 1  # "7" has no "#### 7" line
    assert [p.answer for p in T.load_task("gsm8k", tmp_path / "gsm8k.jsonl").items] == [7.0, 1200.0]
    from dentro.errors import UserError
    with pytest.raises(UserError, match="no such file"):
        T.load_task("arc", tmp_path / "missing.jsonl")


def test_gsm8k_scores_the_final_number(tiny, monkeypatch):
    model, tok = tiny
    import dentro.model.engine as E

    replies = {0: "3 + 4 = 7. The answer is 7\n\nQuestion: next one, 99", 1: "It is 1.100"}

    def fake_generate(model, prompts, **kw):
        return [tok.encode(replies[i]) for i in range(len(prompts))]

    monkeypatch.setattr(E, "generate_batch_all", fake_generate)
    probs = [T.Problem("a", "q1", 7.0), T.Problem("b", "q2", 1200.0)]
    r = T.evaluate(model, tok, "gsm8k", probs, chat=False)
    assert [x["correct"] for x in r["items"]] == [True, False]  # the next "Question:" is cut off
    assert r["accuracy"] == 0.5 and r["chance"] == 0 and r["accuracy_centred"] == 0.5 and "acc_norm" not in r


def test_dentro_eval_end_to_end(tiny, tmp_path, capsys):
    from dentro.model.checkpoint import save_checkpoint

    model, tok = tiny
    run = tmp_path / "run"
    save_checkpoint(run / "pretrain" / "checkpoint", model, tok)
    write_fixtures(tmp_path)
    for task, data in (("arc", "arc.jsonl"), ("mmlu", "mmlu"), ("hellaswag", "hellaswag.jsonl")):
        assert cli.main(["eval", "--run", str(run), "--task", task, "--data", str(tmp_path / data)]) == 0
        res = json.loads((run / "eval" / "base" / f"{task}.json").read_text())
        assert res["n"] == 2 and 0 <= res["accuracy"] <= 1 and len(res["items"]) == 2
        assert res["accuracy_ci"][0] <= res["accuracy"] <= res["accuracy_ci"][1]
    out = capsys.readouterr().out
    assert "hellaswag" in out and "acc_norm" in out
    assert cli.main(["eval", "--run", str(run), "--stage", "sft", "--task", "arc", "--data",
                     str(tmp_path / "arc.jsonl")]) == 2  # no SFT checkpoint: a clear error
