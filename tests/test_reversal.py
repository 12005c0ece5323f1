"""The reversal-curse evaluation (dentro.eval.reversal) on a micro world made by the project's own
generator, with a scripted replier in place of the chat model: pairing of forward and reverse
questions by fact and language, grouping by `stated`, held-out filtering, the per-group sample,
the in-context prompt and the counting."""

import json
import random

import pytest

from dentro.eval import reversal as R
from dentro.eval.stats import wilson
from dentro.world import config_for, generate


def _read(path):
    return [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    out = tmp_path_factory.mktemp("world") / "w"
    generate(out, config_for("micro", seed=3))
    truth = out / "truth"
    # Shuffle the rows of every question file (differently per file): pairing must go by fact id
    # and language, never by position.
    for i, path in enumerate(sorted((truth / "questions").glob("*.jsonl"))):
        rows = _read(path)
        random.Random(i).shuffle(rows)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return truth


@pytest.fixture(scope="module")
def facts(truth):
    return {f["id"]: f for f in _read(truth / "facts.jsonl")}


def _reverse_rows(truth):
    return [r for p in sorted((truth / "questions").glob("*_reverse_*.jsonl")) for r in _read(p)]


def test_pairs_forward_and_reverse_of_the_same_fact_and_language(truth, facts):
    items = R.reversal_items(truth)
    rev = _reverse_rows(truth)
    assert rev and {(it["fact"], it["lang"]) for it in items} == {(r["fact"], r["lang"]) for r in rev}
    assert len(items) == len(rev)
    fwd = {(r["fact"], r["lang"]): r for p in (truth / "questions").glob("*_forward_*.jsonl") for r in _read(p)}
    for it in items:
        f = facts[it["fact"]]
        assert it["forward"]["fact"] == it["reverse"]["fact"] == it["fact"]
        assert it["forward"]["lang"] == it["reverse"]["lang"] == it["lang"]
        assert (it["forward"]["direction"], it["reverse"]["direction"]) == ("forward", "reverse")
        assert it["forward"] == fwd[(it["fact"], it["lang"])]
        assert it["relation"] == f["relation"] in ("mother", "father", "founder")
        assert it["bucket"] == f["bucket"] == it["forward"]["bucket"] == it["reverse"]["bucket"]
        assert it["forward"]["answers"] == [f["answer"][it["lang"]]]  # the object...
        assert f["subject_name"] in it["reverse"]["answers"]  # ...and the subject asked back


def test_grouped_by_stated(truth, facts):
    items = R.reversal_items(truth)
    for it in items:
        assert it["stated"] == facts[it["fact"]]["stated"] == it["reverse"]["stated"]
    groups = {it["stated"] for it in items}
    assert groups == {"forward_only", "both"}  # the micro world has both kinds
    # ordered by bucket, then stated
    order = [(R.BUCKETS.index(it["bucket"]), R.STATED.index(it["stated"])) for it in items]
    assert order == sorted(order)


def test_only_held_out_facts(truth):
    rev_facts = sorted({r["fact"] for r in _reverse_rows(truth)})
    held = set(rev_facts[::2]) | {"F00000", "F00001"}  # half of them, and facts without reverse questions
    items = R.reversal_items(truth, held)
    assert {it["fact"] for it in items} == set(rev_facts[::2])
    assert len(items) == 2 * len(rev_facts[::2])
    assert R.reversal_items(truth, set()) == []


def test_per_group_sample_is_seeded_and_the_same_facts_in_both_languages(truth):
    full = R.reversal_items(truth)
    sizes = {}
    for it in full:
        sizes.setdefault((it["stated"], it["bucket"]), set()).add(it["fact"])
    samples = set()
    for seed in range(6):
        items = R.reversal_items(truth, per_group=2, seed=seed)
        by_group = {}
        for it in items:
            by_group.setdefault((it["stated"], it["bucket"], it["lang"]), set()).add(it["fact"])
        for (stated, bucket), fs in sizes.items():
            pt, en = by_group[(stated, bucket, "pt")], by_group[(stated, bucket, "en")]
            assert pt == en and pt <= fs and len(pt) == min(2, len(fs))
        assert items == R.reversal_items(truth, per_group=2, seed=seed)  # reproducible
        samples.add(frozenset(it["fact"] for it in items))
    assert len(samples) > 1  # the seed matters


def test_the_in_context_prompt_states_the_fact_forward_before_the_reverse_question(truth, facts):
    for it in R.reversal_items(truth):
        f, lang = facts[it["fact"]], it["lang"]
        p = R.in_context_prompt(it)
        s = it["context"]
        assert p.endswith(it["reverse"]["question"]) and p.startswith(s)
        # the sentence names the subject, then the object: the fact, forward
        assert f["subject_name"] in s and f["answer"][lang] in s
        assert s.index(f["subject_name"]) < s.index(f["answer"][lang])
        assert s != it["reverse"]["question"] and "?" not in s


def _scripted(monkeypatch, decide):
    """reply_batch replaced by a replier that answers each question right when decide(item, key)."""
    seen = {}

    def fake(model, tokenizer, conversations, **kw):
        seen["kw"], seen["convs"] = kw, conversations
        out = []
        for c in conversations:
            assert len(c) == 1 and c[0]["role"] == "user"
            it, key = seen["index"][c[0]["content"]]
            right = (it["forward"] if key == "forward" else it["reverse"])["answers"][0]
            wrong = it["forward"]["answers"][0] if key != "forward" else it["reverse"]["answers"][0]
            text = f"it is {right.upper()}." if decide(it, key) else f"{wrong}, I think."
            out.append({"text": text, "closed": True, "tokens": 5, "too_long": False})
        return out

    monkeypatch.setattr("dentro.chat.assistant.reply_batch", fake)
    return seen


def _index(items):
    """question -> (item, key), for the scripted replier."""
    idx = {}
    for it in items:
        for key, q in (("forward", it["forward"]["question"]), ("reverse", it["reverse"]["question"]),
                       ("in_context", R.in_context_prompt(it))):
            idx[q] = (it, key)
    return idx


def _unique(items):
    """Items whose reverse question no other item asks (siblings share "Who is B's son?"), so that
    the scripted replier knows which fact a question is about."""
    n = {}
    for it in items:
        n[it["reverse"]["question"]] = n.get(it["reverse"]["question"], 0) + 1
    return [it for it in items if n[it["reverse"]["question"]] == 1]


def test_counts_right_answers_per_stated_bucket_and_language(truth, monkeypatch):
    items = _unique(R.reversal_items(truth))
    assert len({it["stated"] for it in items}) == 2
    # The curse, scripted: forward always right, reverse right only for facts the crawl wrote both
    # ways (and only in Portuguese), in-context reverse right except for odd-numbered facts.
    decide = {"forward": lambda it: True,
              "reverse": lambda it: it["stated"] == "both" and it["lang"] == "pt",
              "in_context": lambda it: int(it["fact"][1:]) % 2 == 0}
    seen = _scripted(monkeypatch, lambda it, key: decide[key](it))
    seen["index"] = _index(items)
    result = R.measure(None, None, items, max_tokens=17)
    assert seen["kw"]["max_tokens"] == 17 and seen["kw"]["sampling"].temperature == 0.0
    assert len(seen["convs"]) == 3 * len(items)
    contents = {c[0]["content"] for c in seen["convs"]}
    for it in items:  # each item's three questions were asked
        assert {it["forward"]["question"], it["reverse"]["question"], R.in_context_prompt(it)} <= contents

    expect = {}
    for it in items:
        g = expect.setdefault((it["stated"], it["bucket"], it["lang"]), {k: 0 for k in ("n", *R.KEYS)})
        g["n"] += 1
        for key in R.KEYS:
            g[key] += decide[key](it)
    got = {(r["stated"], r["bucket"], r["lang"]): r for r in result["rows"]}
    assert set(got) == set(expect)
    for k, e in expect.items():
        r = got[k]
        assert r["n"] == e["n"]
        for key in R.KEYS:
            assert (r[key]["n"], r[key]["k"]) == (e["n"], e[key]), (k, key)
            assert r[key]["rate"] == e[key] / e["n"]
            assert tuple(r[key]["ci"]) == wilson(e[key], e["n"])
    assert any(r["reverse"]["k"] == 0 for r in result["rows"])  # the scripted curse shows
    for rec in result["items"]:
        assert rec["forward_correct"] and rec["reverse_correct"] == decide["reverse"](rec)
        assert rec["reverse_reply"] and "in_context_reply" in rec
    assert "forward_correct" not in items[0]  # the input items are left as they were


def test_markdown_table_is_the_papers_shape(truth, monkeypatch):
    items = _unique(R.reversal_items(truth, per_group=3))
    seen = _scripted(monkeypatch, lambda it, key: key != "reverse" or it["stated"] == "both")
    seen["index"] = _index(items)
    result = R.measure(None, None, items)
    md = R.markdown_table(result)
    lines = md.splitlines()
    assert lines[0] == "| stated | bucket | lang | n | forward | reverse | reverse, fact in context |"
    assert len(lines) == 2 + len(result["rows"])
    fo = [l for l in lines if l.startswith("| forward-only | rare | en |")]
    assert len(fo) == 1
    n = sum(1 for it in items if (it["stated"], it["bucket"], it["lang"]) == ("forward_only", "rare", "en"))
    lo, hi = wilson(0, n)
    assert fo[0] == (f"| forward-only | rare | en | {n} | 100% ({n}/{n}; {100 * wilson(n, n)[0]:.0f}–100) "
                     f"| 0% (0/{n}; 0–{100 * hi:.0f}) | 100% ({n}/{n}; {100 * wilson(n, n)[0]:.0f}–100) |")
    assert any(l.startswith("| both ways | ") for l in lines)


def test_evaluate_run_uses_the_sft_model_and_its_held_out_facts(truth, tmp_path, monkeypatch):
    run = tmp_path / "run"
    (run / "world").mkdir(parents=True)
    (run / "world" / "truth").symlink_to(truth)
    rev_facts = sorted({r["fact"] for r in _reverse_rows(truth)})
    (run / "sft" / "conversations").mkdir(parents=True)
    (run / "sft" / "conversations" / "heldout.json").write_text(json.dumps({"facts": rev_facts[:3]}))
    loaded = []
    monkeypatch.setattr("dentro.model.checkpoint.load_checkpoint",
                        lambda folder, device, **kw: loaded.append(folder) or ("M", "T", None))
    seen = _scripted(monkeypatch, lambda it, key: True)
    seen["index"] = _index(R.reversal_items(truth))
    result = R.evaluate_run(run, per_group=20)
    assert loaded == [run / "sft" / "checkpoint"]
    assert {it["fact"] for it in result["items"]} == set(rev_facts[:3])
    assert result["seconds"] >= 0


def test_base_model_cloze_prompts_name_the_object_first(truth, facts):
    items = R.reversal_items(truth)
    prompts = R.cloze_prompts(truth, items)
    assert len(prompts) == 3 * len(items)
    for i, it in enumerate(items):
        fwd, rev, ctx = prompts[3 * i:3 * i + 3]
        obj = it["forward"]["answer"]
        assert fwd is None or obj not in fwd  # the forward cloze stops before the object
        assert rev.startswith(obj) and it["reverse"]["answers"][0] not in rev  # object first, subject asked
        assert ctx == f"{it['context']} {rev}"


def test_base_model_cloze_is_scored_like_the_questions(truth, monkeypatch):
    import types

    import dentro.eval.knowledge as K

    items = R.reversal_items(truth)
    # a scripted base model: completes every reverse sentence with the right subject, nothing else
    monkeypatch.setattr(K, "run_cloze", lambda model, tok, prompts, max_tokens: [
        f" {items[i // 3]['reverse']['answers'][0]}." if p and i % 3 == 1 else " ninguém." for i, p in
        enumerate(prompts)])
    model = types.SimpleNamespace(config=types.SimpleNamespace(max_position_embeddings=4096))
    tok = types.SimpleNamespace(encode=lambda s: s.split())
    r = R.cloze(model, tok, truth, items)
    assert all(it["reverse_correct"] and not it["forward_correct"] for it in r["items"])
    assert sum(row["n"] for row in r["rows"]) == len(items)
    # no room in a short context: the prompt is not asked, and counts as not answered
    short = types.SimpleNamespace(config=types.SimpleNamespace(max_position_embeddings=4))
    assert not any(it["reverse_correct"] for it in R.cloze(short, tok, truth, items)["items"])
