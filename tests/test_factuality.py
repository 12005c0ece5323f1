"""Knowledge probing (`dentro factuality`): scoring answers, the known/unknown decision, refusals
in the question's language, no held-out fact ever probed or trained on, and the command end to
end on a micro world with a throwaway chat model."""

import json
import random

import pytest
import torch
from test_conversations import micro  # noqa: F401  (the micro world and its SFT conversations)
from test_sft import killed_at_step_2_then_resumed

from dentro import cli
from dentro.chat import probing as P
from dentro.commands import factuality as F
from dentro.eval.knowledge import is_refusal, verdict
from dentro.web.language import identify
from dentro.world.conversations import _absent_names, read_world

# ---- scoring --------------------------------------------------------------------------------


@pytest.mark.parametrize("reply,answers,want", [
    ("Ana Souza nasceu em Campinas.", ["Campinas"], "correct"),
    ("ana souza nasceu em  CAMPINAS", ["Campinas"], "correct"),         # case and spaces do not matter
    ("The population of Lisbon is 80,266.", ["80,266"], "correct"),
    ("Ana Souza nasceu em Santos.", ["Campinas"], "wrong"),
    ("A população é de 80.266 habitantes.", ["80,266"], "wrong"),       # the other language's number format
    ("", ["Campinas"], "wrong"),
    ("Não sei onde Ana Souza nasceu.", ["Campinas"], "refused"),
    ("I don't know, maybe Campinas?", ["Campinas"], "refused"),          # a refusal is not a claim
    ("I don’t know who that is.", ["Campinas"], "refused"),             # typographic apostrophe
    ("Jorge Barros nasceu em 1977.", [], "wrong"),                       # about nobody: any answer is made up
    ("Não sei quem é Jorge Barros.", [], "refused"),
])
def test_verdict_on_hand_written_answers(reply, answers, want):
    assert verdict(reply, answers) == want


def _item(n_correct, k=4, lang="pt", fact="F1", subject="Ana Souza", refused=0):
    samples = [{"text": "Campinas", "verdict": "correct"}] * n_correct + \
              [{"text": "Não sei", "verdict": "refused"}] * refused + \
              [{"text": "Santos", "verdict": "wrong"}] * (k - n_correct - refused)
    return {"id": f"{fact}-{lang}", "fact": fact, "question": "Onde Ana Souza nasceu?", "answers": ["Campinas"],
            "lang": lang, "bucket": "rare", "subject": subject, "samples": samples, "n_correct": n_correct,
            "n_refused": refused, "greedy": "Santos", "greedy_verdict": "wrong"}


def test_known_when_at_least_min_correct_of_k():
    items = [_item(n) for n in range(5)]
    P.decide(items, 2)
    assert [it["decision"] for it in items] == ["unknown", "unknown", "known", "known", "known"]
    P.decide(items, 1)  # the threshold is the option, not a constant
    assert [it["decision"] for it in items] == ["unknown", "known", "known", "known", "known"]
    refused = [_item(0, refused=4)]  # refusing every time is not knowing
    P.decide(refused, 1)
    assert refused[0]["decision"] == "unknown"


def test_probe_asks_k_sampled_times_in_batches(monkeypatch):
    """probe() goes through reply_batch: k sampled copies of each question in one batched call
    per chunk, plus one greedy call; each answer is scored against the truth."""
    import dentro.chat.assistant as A

    calls = []
    canned = {"Onde Ana nasceu?": ["Ana nasceu em Campinas.", "Ana nasceu em Campinas.", "Ana nasceu em Santos."],
              "Where was Bob born?": ["Bob was born in Leeds.", "Bob was born in Hull.", "Bob was born in York."],
              "Quem é Zé Ninguém?": ["Não sei.", "Não sei.", "Não sei."]}
    seen: dict[str, int] = {}

    def fake_reply_batch(model, tok, convs, *, max_tokens, sampling=None, seed=None, **kw):
        calls.append((len(convs), None if sampling is None else sampling.temperature, seed))
        out = []
        for c in convs:
            q = c[-1]["content"]
            if sampling is None:  # greedy: the first canned answer, with its confidence (the gate's)
                assert kw.get("confidence") is True
                out.append({"text": canned[q][0], "closed": True, "tokens": 5, "too_long": False,
                            "confidence": 0.5 + 0.1 * len(q) % 0.4})
                continue
            i = seen.get(q, 0)
            seen[q] = i + 1
            out.append({"text": canned[q][i % 3], "closed": True, "tokens": 5, "too_long": False})
        return out

    monkeypatch.setattr(A, "reply_batch", fake_reply_batch)
    items = [{"id": "a", "fact": "F1", "question": "Onde Ana nasceu?", "answers": ["Campinas"], "lang": "pt",
              "bucket": "rare"},
             {"id": "b", "fact": "F2", "question": "Where was Bob born?", "answers": ["Leeds"], "lang": "en",
              "bucket": "rare"},
             {"id": "c", "fact": "F3", "question": "Quem é Zé Ninguém?", "answers": ["X"], "lang": "pt",
              "bucket": "rare"}]
    P.probe(None, None, items, k=3, temperature=0.7, seed=5, chunk=2)
    # two chunks (2 + 1 questions): a sampled call of chunk x k conversations, then a greedy one
    assert calls == [(6, 0.7, 5), (2, None, None), (3, 0.7, 6), (1, None, None)]
    assert [it["n_correct"] for it in items] == [2, 1, 0]
    assert items[2]["n_refused"] == 3 and all(len(it["samples"]) == 3 for it in items)
    assert [s["verdict"] for s in items[0]["samples"]] == ["correct", "correct", "wrong"]
    assert items[0]["greedy_verdict"] == "correct" and items[2]["greedy_verdict"] == "refused"
    assert [it["greedy_confidence"] for it in items] == [0.5 + 0.1 * len(it["question"]) % 0.4 for it in items]
    P.decide(items, 2)
    assert [it["decision"] for it in items] == ["known", "unknown", "unknown"]
    s = P.summary(items)
    assert s["rare/pt"] == {"n": 2, "known": 1, "unknown": 1, "known_greedy_correct": 1,
                            "unknown_greedy_correct": 0, "mean_correct": 1.0}


# ---- conversations --------------------------------------------------------------------------

def test_refusals_are_in_the_questions_language():
    rng = random.Random(0)
    items = [_item(0, lang="pt", fact="F1"), _item(0, lang="en", fact="F2"), _item(3, lang="en", fact="F3")]
    items[1]["question"] = "Where was Ana Souza born?"
    items += [dict(_item(0, lang="pt", fact=None, subject=None), id="user:1")]  # a user's pair: no subject
    P.decide(items, 2)
    convs = P.probe_conversations(items, rng)  # no world: one phrasing, the model's own correct answer
    assert [c["kind"] for c in convs] == ["probe_unknown", "probe_unknown", "probe_known", "probe_unknown"]
    for c in convs:
        reply = c["messages"][-1]["content"]
        if c["kind"] == "probe_unknown":
            assert is_refusal(reply)
            assert reply.startswith({"pt": "Não sei", "en": "I don't know"}[c["lang"]]), reply
            assert identify(reply)[0] == c["lang"], reply
        else:
            assert reply == "Campinas" and not is_refusal(reply)
    assert convs[3]["sources"] == ["user:1"]
    for lang in ("pt", "en"):
        for nobody in (False, True):
            for seed in range(6):
                text = P.refusal(lang, random.Random(seed), nobody=nobody)
                assert is_refusal(text) and identify(text)[0] == lang, text


def test_world_conversations_never_touch_the_heldout_split(micro):  # noqa: F811
    truth, result, folder = micro
    heldout = json.loads((folder / "heldout.json").read_text(encoding="utf-8"))
    held_facts, held_entities = set(heldout["facts"]), set(heldout["entities"])
    w = read_world(truth)
    items = P.world_items(truth, heldout, per_bucket=None)
    assert items and {it["bucket"] for it in items} <= {"frequent", "medium", "rare"}
    assert not {it["fact"] for it in items} & held_facts
    facts = {f.id: f for f in w.facts}
    assert not any(isinstance(facts[it["fact"]].object, str) and facts[it["fact"]].object in held_entities
                   for it in items)
    # every other fact with a question is there, in both languages
    asked = {(it["fact"], it["lang"]) for it in items}
    assert {lang for _, lang in asked} == {"pt", "en"} and len(asked) == len(items)

    rng = random.Random(0)
    for i, it in enumerate(items):
        it.update(samples=[{"text": it["answers"][0], "verdict": "correct"}], n_correct=i % 2)
    P.decide(items, 1)
    convs = P.probe_conversations(items, rng, world=w)
    assert len(convs) == 2 * len(items)  # the probed question and a paraphrase
    replay = result["train"]
    nobody = P.nobody_conversations(w, truth, 20, rng, avoid="\n".join(m["content"] for c in replay
                                                                       for m in c["messages"]))
    assert len(nobody) == 20
    texts = "\n".join(m["content"] for c in convs + nobody for m in c["messages"])
    for eid in held_entities:
        assert w.name(eid) not in texts, w.name(eid)
    taken = {e.name for t in (w.people, w.cities, w.orgs) for e in t.values()} | _absent_names(truth)
    for c in nobody:
        assert c["name"] not in taken and c["name"] in c["messages"][0]["content"]
        assert is_refusal(c["messages"][1]["content"]) and identify(c["messages"][1]["content"])[0] == c["lang"]
    for c in convs:
        reply = c["messages"][1]["content"]
        it = next(x for x in items if x["fact"] == c["sources"][0] and x["lang"] == c["lang"])
        if it["decision"] == "known":
            assert it["answers"][0] in reply and not is_refusal(reply)
        else:
            assert is_refusal(reply)

    unknown = {it["fact"] for it in items if it["decision"] == "unknown"}
    train, val, stats = P.build_mix(convs, nobody, replay, replay_frac=0.5, unknown=unknown, rng=rng)
    replayed = [c for c in train + val if not c["kind"].startswith("probe_")]
    assert replayed and not any(set(c["sources"]) & unknown for c in replayed)
    reading = [c for c in replay if c["kind"] == "reading" and not set(c["sources"]) & unknown]
    assert reading and all(any(c is m for m in train + val) for c in reading)  # never refused: replayed whole
    identity = [c for c in replay if c["kind"] == "identity"]
    n_identity = min(len(identity), P.ALWAYS_REPLAY_MAX["identity"])   # and identity, up to its cap
    assert sum(c["kind"] == "identity" for c in train + val) == n_identity
    assert stats["replay"] == max(round(0.5 * (len(convs) + len(nobody))), len(reading) + n_identity)
    assert stats["probe_nobody"] == 20 and len(train) + len(val) == sum(v for k, v in stats.items()
                                                                        if k != "replay_dropped_unknown")
    # tool conversations join whole, even one about an unknown fact (its answer is the tool's)
    tool = {"kind": "search", "lang": "pt", "sources": sorted(unknown)[:1], "messages": replay[0]["messages"]}
    train, val, stats = P.build_mix(convs, nobody, replay, replay_frac=0.5, unknown=unknown, rng=rng, tools=[tool])
    assert stats["tools_search"] == 1 and any(c is tool for c in train + val)


def test_user_pairs_skip_and_count_bad_lines(tmp_path):
    path = tmp_path / "qa.jsonl"
    lines = [json.dumps({"question": "Quem escreveu Dom Casmurro?", "answer": "Machado de Assis", "lang": "pt"}),
             "{not json",
             json.dumps({"question": "Who wrote Hamlet?", "answers": ["Shakespeare", "William Shakespeare"]}),
             json.dumps({"question": "", "answer": "x"}),
             json.dumps({"question": "What is 2+2?"}),
             json.dumps(["a", "list"]),
             "",
             json.dumps({"question": "Qual é a capital do Brasil?", "answer": "Brasília"})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    items, stats = P.read_qa_pairs(path)
    assert [it["answers"] for it in items] == [["Machado de Assis"], ["Shakespeare", "William Shakespeare"],
                                               ["Brasília"]]
    assert [it["lang"] for it in items] == ["pt", "en", "pt"]  # given, then detected
    assert stats["skipped"] == {"not_json": 1, "no_question": 2, "no_answer": 1}
    assert stats["skipped_lines"] == {"not_json": [2], "no_question": [4, 6], "no_answer": [5]}


# ---- the command end to end -----------------------------------------------------------------

@pytest.fixture(scope="module")
def run(micro, tmp_path_factory, one_thread):  # noqa: F811
    """A run folder: the micro world, its SFT split and conversations, and a random depth-1
    'chat model' (context 128) with a throwaway tokenizer."""
    from dentro.model.checkpoint import save_checkpoint
    from dentro.model.gpt import GPT, ModelConfig
    from dentro.tokenizer.bpe import train_tokenizer

    truth, result, folder = micro
    run = tmp_path_factory.mktemp("run")
    (run / "world").symlink_to(truth.parent)
    (run / "sft").mkdir()
    (run / "sft" / "conversations").symlink_to(folder)
    texts = [m["content"] for c in result["train"] for m in c["messages"]] + ["user\nassistant\nsystem\n"] * 20
    tok = train_tokenizer(texts, vocab_size=1000)
    torch.manual_seed(0)
    model = GPT(ModelConfig.from_depth(1, vocab_size=tok.vocab_size, max_seq_len=128))
    save_checkpoint(run / "sft" / "checkpoint", model, tok, {"train_config": {
        "matrix_lr": 0.02, "embedding_lr": 0.01, "unembedding_lr": 0.004, "scalar_lr": 0.01, "adamw_lr": 1e-3,
        "optimizer": "muon"}})
    return run


def test_factuality_end_to_end(run, capsys):
    assert cli.main(["factuality", "--run", str(run), "--preset", "micro"]) == 0
    printed = capsys.readouterr().out
    out = run / "factuality"
    assert (out / "checkpoint" / "model.safetensors").is_file() and (out / "loss.png").is_file()
    from dentro.model.checkpoint import read_config

    assert read_config(out / "checkpoint")[1]["stage"] == "factuality"
    heldout = json.loads((run / "sft" / "conversations" / "heldout.json").read_text(encoding="utf-8"))
    held = set(heldout["facts"])

    # the probe: k sampled answers per question, none about a held-out fact
    probe = json.loads((out / "probe.json").read_text(encoding="utf-8"))
    k = probe["config"]["k"]
    assert probe["items"] and all(len(it["samples"]) == k for it in probe["items"])
    assert not {it["fact"] for it in probe["items"]} & held
    for it in probe["items"]:
        assert it["decision"] == ("known" if it["n_correct"] >= probe["config"]["min_correct"] else "unknown")

    # the mix: nothing from the held-out split; every unknown question refused in its language
    mix = [json.loads(l) for p in ("train.jsonl", "val.jsonl")
           for l in (out / "conversations" / p).read_text(encoding="utf-8").splitlines()]
    assert not {s for c in mix for s in c.get("sources", [])} & held
    refusals = [c for c in mix if c["kind"] in ("probe_unknown", "probe_nobody")]
    assert refusals and all(is_refusal(c["messages"][-1]["content"]) for c in refusals)
    kinds = {c["kind"] for c in mix}
    assert {"probe_unknown", "probe_nobody"} <= kinds and kinds & {"fact", "identity", "reading", "math"}  # replay

    # the tables: SFT and probed models, every bucket x language, the three verdicts adding up
    ev = json.loads((out / "eval.json").read_text(encoding="utf-8"))
    for model in ("sft", "probed"):
        assert set(ev["tables"][model]) == {f"{b}/{l}" for b in ("frequent", "medium", "rare", "absent")
                                            for l in ("pt", "en")}
        for g in ev["tables"][model].values():
            assert sum(g[v]["k"] for v in ("correct", "refused", "wrong")) == g["correct"]["n"] > 0
    evaluated = [json.loads(l) for l in (out / "eval.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all(it["fact"] in held for it in evaluated if it["bucket"] not in ("absent", "nonfact", "followup"))
    nonfact = [it for it in evaluated if it["bucket"] == "nonfact"]
    assert nonfact and {it["kind"] for it in nonfact} <= {"identity", "reading", "math"}
    assert ev["figures"]["nonfact_n"] == len(nonfact) and "probed" in nonfact[0]
    assert {"absent_refused", "sft_correct_kept", "rare_wrong"} <= set(ev["figures"])
    assert "| absent | pt |" in printed and "probed refused" in printed

    # the confidence gate: calibrated on the probe's greedy answers when one of them was right
    right = [it["greedy_confidence"] for it in probe["items"] if it["greedy_verdict"] == "correct"]
    assert all(0.0 <= it["greedy_confidence"] <= 1.0 for it in probe["items"])
    assert (out / "gate.json").is_file() == bool(right)
    if right:
        gate = json.loads((out / "gate.json").read_text(encoding="utf-8"))
        assert gate["threshold"] in right and sum(c >= gate["threshold"] for c in right) >= 0.9 * len(right)
        assert {"absent_refused_gate", "sft_correct_kept_gate", "nonfact_refused_gate"} <= set(ev["figures"])
        # the SFT stage's held-out follow-ups, judged by the gate (the conversation named the person)
        follow = [it for it in evaluated if it["bucket"] == "followup"]
        assert len(follow) == len(F.followup_items(run))
        assert all(len(it["messages"]) >= 3 and it["gated"]["verdict"] in ("correct", "refused", "wrong") for it in follow)
        if follow:
            f = ev["figures"]
            assert f["followup_n"] == len(follow)
            assert f["followup_right_n"] == sum(it["sft"]["verdict"] == "correct" for it in follow)


def test_factuality_on_a_users_pairs(run, tmp_path):
    path = tmp_path / "qa.jsonl"
    rows = [{"question": f"Qual é o número {i}?", "answer": str(i), "lang": "pt"} for i in range(10)] + \
           [{"question": f"What is number {i}?", "answer": str(i), "lang": "en"} for i in range(10)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{bad\n", encoding="utf-8")
    out = tmp_path / "f"
    assert cli.main(["factuality", "--run", str(run), "--preset", "micro", "--data", str(path),
                     "--heldout-frac", "0.25", "--out", str(out)]) == 0
    probe = json.loads((out / "probe.json").read_text(encoding="utf-8"))
    evaluated = [json.loads(l) for l in (out / "eval.jsonl").read_text(encoding="utf-8").splitlines()]
    users_eval = {it["id"] for it in evaluated if it["bucket"] == "user"}
    assert len(probe["items"]) == 15 and len(users_eval) == 5
    assert not users_eval & {it["id"] for it in probe["items"]}  # held-out pairs are never probed
    tables = json.loads((out / "eval.json").read_text(encoding="utf-8"))["tables"]
    assert {"user/pt", "user/en"} & set(tables["probed"])


def test_resume_continues_the_fine_tuning_exactly(run, tmp_path, monkeypatch):
    """6 steps at once == killed right after the step-2 checkpoint, then --resume (the probe and
    the mix read back, not redone): the same losses."""
    import dentro.chat.probing as probing

    def losses(out):
        recs = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines() if l.strip()]
        return [r["loss"] for r in recs if "loss" in r]

    common = ["factuality", "--run", str(run), "--preset", "micro", "--steps", "6", "--save-every", "2"]
    assert cli.main(common + ["--out", str(tmp_path / "a")]) == 0
    killed_at_step_2_then_resumed(monkeypatch, common + ["--out", str(tmp_path / "b")],  # resuming must not probe again
                                  before_resume=lambda: monkeypatch.setattr(probing, "probe", None))
    a, b = losses(tmp_path / "a"), losses(tmp_path / "b")
    assert len(a) == 6 and a == b
    assert (tmp_path / "a" / "conversations" / "train.jsonl").read_text() == \
        (tmp_path / "b" / "conversations" / "train.jsonl").read_text()


def test_the_glance_row_shows_what_the_gate_does():
    from dentro.commands.factuality import glance_first

    probed = {"absent_refused": 0.26, "sft_correct_kept": 0.66, "rare_wrong": 0.68, "absent_refused_sft": 0.0}
    assert glance_first(probed) == probed and list(glance_first(probed)) == list(probed)
    gated = {**probed, "gate_threshold": 0.9, "absent_refused_gate": 0.82, "sft_correct_kept_gate": 0.91,
             "rare_wrong_gate": 0.38, "tools_rare_correct": 0.06, "tools_rare_correct_gate": 0.09}
    out = glance_first(gated)
    assert list(out)[:4] == ["absent_refused_gate", "sft_correct_kept_gate", "rare_wrong_gate", "tools_rare_correct_gate"]
    assert out == gated and list(out)[4:7] == ["absent_refused", "sft_correct_kept", "rare_wrong"]
    assert list(glance_first({**gated, "tools_rare_correct_gate": None}))[3] == "absent_refused"


def test_report_card_section(run):
    from dentro.commands.factuality import TITLE, run_stage
    from dentro.speedrun import built_stages

    names = [n for n, _ in built_stages()]
    assert names.index("sft") < names.index("factuality") < names.index("export")
    figures, md = run_stage(run, "micro")
    # the report card's glance row shows the first figures: the gated ones (what `dentro chat`
    # does) when the run has a gate, else the probed model's
    lead = [k for k in F.GLANCE if figures.get(k) is not None] or ["absent_refused", "sft_correct_kept", "rare_wrong"]
    assert list(figures)[:len(lead)] == lead
    assert {"absent_refused", "sft_correct_kept", "rare_wrong"} <= set(figures)
    assert "factuality/loss.png" in md and "| absent | pt |" in md and "refused ≥ 80%" in md
    assert TITLE.startswith("Stage 6")


def test_without_a_chat_model_it_says_to_run_sft(tmp_path, capsys):
    assert cli.main(["factuality", "--run", str(tmp_path), "--preset", "micro"]) == 2
    assert "dentro sft" in capsys.readouterr().err


def test_min_correct_above_k_is_a_clear_error(run, capsys):
    assert cli.main(["factuality", "--run", str(run), "--preset", "micro", "-k", "2", "--min-correct", "3"]) == 2
    assert "--min-correct" in capsys.readouterr().err


def test_factuality_trains_and_measures_tools_when_the_run_has_a_corpus(run, tmp_path, capsys, monkeypatch):
    """With a corpus to search, the mix holds tool conversations (searches grounded in the run's
    own index, python, plain answers, searches about nobody), each with the tools prompt, and
    eval.json measures both models with and without tools."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dentro.chat.tools import TOOLS_PROMPT

    r2 = tmp_path / "run"
    r2.mkdir()
    (r2 / "world").symlink_to(run / "world")
    (r2 / "sft").mkdir()
    (r2 / "sft" / "conversations").symlink_to(run / "sft" / "conversations")
    # the same throwaway chat model with a 256-token window: the tool conversations fit it
    from dentro.model.checkpoint import load_checkpoint, save_checkpoint
    from dentro.model.gpt import GPT, ModelConfig

    _, tok, state = load_checkpoint(run / "sft" / "checkpoint", "cpu")
    torch.manual_seed(0)
    save_checkpoint(r2 / "sft" / "checkpoint", GPT(ModelConfig.from_depth(1, vocab_size=tok.vocab_size,
                                                                          max_seq_len=256)), tok, state)
    facts = [json.loads(l) for l in (run / "world" / "truth" / "facts.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = [f"{f['subject_name']}: {f['relation']} {f['answer']['pt']} / {f['answer']['en']}." for f in facts]
    (r2 / "data" / "corpus").mkdir(parents=True)
    pq.write_table(pa.table({"id": [str(i) for i in range(len(texts))], "text": texts}),
                   r2 / "data" / "corpus" / "00000.parquet")
    out = tmp_path / "f"
    from dentro.commands import factuality as F
    from dentro.commands import sft as S

    seen = []  # (tag, kinds of the conversations) of every fine-tuning, in order
    real = S.finetune

    def spy(model, tok, convs, *a, **kw):
        seen.append((kw.get("tag"), [c.get("kind") for c in convs]))
        return real(model, tok, convs, *a, **kw)

    monkeypatch.setattr(S, "finetune", spy)
    real_gate = F.gate_from_probe

    def some_gate(items, chat_dir, tool_model, invented=None):  # a random model answers nothing right: the median
        from dentro.chat.gate import score

        gate = real_gate([{**it, "greedy_verdict": "correct"} for it in items], chat_dir, tool_model, invented)
        assert gate["weights"] and gate["invented"] == len(invented)  # fitted on the names' familiarity too
        conf = sorted(score(gate["weights"], it["greedy_confidence"], it["greedy_familiarity"]) for it in items)
        return {**gate, "threshold": conf[len(conf) // 2]}

    monkeypatch.setattr(F, "gate_from_probe", some_gate)
    assert cli.main(["factuality", "--run", str(r2), "--preset", "micro", "--out", str(out)]) == 0
    assert "tool conversations" in capsys.readouterr().out
    # the tools phase first: every tool conversation of the mix and tools_replay others; then the whole mix
    assert [tag for tag, _ in seen] == ["tools", "factuality"]
    train_kinds = [json.loads(l)["kind"] for l in (out / "conversations" / "train.jsonl").read_text().splitlines()]
    first = seen[0][1]
    assert sorted(k for k in first if k in F.TOOL_KINDS) == sorted(k for k in train_kinds if k in F.TOOL_KINDS)
    assert {"search", "python"} <= set(first)
    assert sum(k not in F.TOOL_KINDS for k in first) == F.PRESETS["micro"].tools_replay
    assert sorted(seen[1][1]) == sorted(train_kinds)
    assert (out / "tools" / "checkpoint" / "model.safetensors").is_file() and (out / "tools" / "loss.png").is_file()
    mix = [json.loads(l) for p in ("train.jsonl", "val.jsonl")
           for l in (out / "conversations" / p).read_text(encoding="utf-8").splitlines()]
    tools = [c for c in mix if c["kind"] in ("search", "python", "plain", "search_nobody")]
    assert {c["kind"] for c in tools} >= {"search", "python", "search_nobody"}
    assert all(TOOLS_PROMPT in c["messages"][0]["content"] for c in tools)
    assert (r2 / "tools" / "search.sqlite").is_file()  # the index dentro chat searches
    ev = json.loads((out / "eval.json").read_text(encoding="utf-8"))
    assert set(ev["tools"]) == {"sft/tools", "sft/plain", "probed/tools", "probed/plain", "gated/tools"}
    for tab in ev["tools"].values():
        assert {"rare/pt", "absent/en", "arithmetic/pt", "arithmetic/en", "arithmetic_mixed/pt"} <= set(tab)
        assert all(g["correct"] + g["refused"] + g["wrong"] == g["n"] > 0 for g in tab.values())
    assert "tools_rare_correct" in ev["figures"] and "tools_needless_sft" in ev["figures"]
    assert {"tools_arith_mixed_python", "tools_arith_mixed_python_gate"} <= set(ev["figures"])
    lead = [k for k in F.GLANCE if ev["figures"].get(k) is not None]  # (none kept: the SFT model got none right)
    assert len(lead) >= 3 and list(ev["figures"])[:len(lead)] == lead  # the glance row: what the gate does
    rows = [json.loads(l) for l in (out / "tools.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows and all({"sft_tools", "sft_plain", "probed_tools", "probed_plain"} <= set(r) for r in rows)
    f = ev["figures"]
    # behind the gate: the SFT model's direct answer where it is sure enough, else the tools' answer
    from dentro.chat.gate import after_tools, reasons, score

    gate = json.loads((out / "gate.json").read_text())
    t = gate["threshold"]  # (the figures round it)
    assert f["gate_threshold"] == round(t, 4)
    # beside it, the same replies judged on the geometric mean alone (the gate before the name's familiarity)
    assert f["gate_mean_threshold"] == round(gate["answer_threshold"], 4)
    assert {"absent_refused_gate_mean", "sft_correct_kept_gate_mean", "rare_wrong_gate_mean"} <= set(f)
    for r in rows:
        d = r["sft_plain"]
        to_tools = (score(gate["weights"], d["confidence"], d["familiarity"]) < t or reasons(d["text"])) \
            and len(r["question"].split()) <= 16
        if not to_tools:
            assert r["gated_tools"] == {"text": d["text"], "calls": [], "verdict": d["verdict"]}
        elif after_tools(r["probed_tools"].get("confidence"), gate["answer_threshold"]):
            assert r["gated_tools"] == r["probed_tools"]
        else:  # the tool model's answer, below the geometric mean's threshold: refused
            assert r["gated_tools"]["verdict"] == "refused" and r["gated_tools"]["calls"] == r["probed_tools"]["calls"]
    assert {"tools_needless_gate", "tools_arith_python_gate", "absent_refused_gate", "nonfact_refused_gate"} <= set(f)
    assert set(ev["tables"]["gated"]) == set(ev["tables"]["sft"])
    section = F.tools_section(ev["tools"], f, lambda x: "–" if x is None else f"{100 * x:.0f}%", lambda x, ok: "")
    assert "gate, then tools" in section and "confidence gate, then tools" in section
    assert json.loads((out / "gate.json").read_text())["tool_model"] == str(out / "checkpoint")
    assert f["tools_phase_steps"] == F.PRESETS["micro"].tools_train.max_steps
    assert f["tools_phase_tool_conversations"] == sum(k in F.TOOL_KINDS for k in train_kinds)

    # --tools-minutes 0 leaves the phase out: the mix alone
    seen.clear()
    assert cli.main(["factuality", "--run", str(r2), "--preset", "micro", "--out", str(tmp_path / "g"),
                     "--tools-minutes", "0"]) == 0
    assert [tag for tag, _ in seen] == ["factuality"] and not (tmp_path / "g" / "tools").exists()
    assert "tools_phase_steps" not in json.loads((tmp_path / "g" / "eval.json").read_text())["figures"]


def test_replay_caps_the_identity_conversations():
    """Every reading conversation is replayed, the identity ones up to ALWAYS_REPLAY_MAX (a seeded
    sample, the same on every run), so that they do not crowd out the fact conversations."""
    import random

    from dentro.chat import probing as P

    def conv(kind, i):
        return {"kind": kind, "lang": "pt", "sources": [], "messages": [{"role": "user", "content": f"{kind} {i}"}]}

    most = P.ALWAYS_REPLAY_MAX["identity"]
    replay = [conv("identity", i) for i in range(most + 50)] + [conv("reading", i) for i in range(30)] \
        + [conv("fact", i) for i in range(400)]
    probed = [conv("probe_known", i) for i in range(300)]
    picks = []
    for _ in range(2):
        train, val, stats = P.build_mix(probed, [], replay, replay_frac=1.0, unknown=set(), rng=random.Random(0))
        mix = train + val
        assert sum(c["kind"] == "identity" for c in mix) == most
        assert sum(c["kind"] == "reading" for c in mix) == 30 and stats["replay"] == 300
        assert sum(c["kind"] == "fact" for c in mix) == 300 - most - 30
        picks.append(sorted(c["messages"][0]["content"] for c in mix if c["kind"] == "identity"))
    assert picks[0] == picks[1]


def test_the_gate_judges_the_sft_stages_follow_ups(tmp_path):
    """followup_items reads the SFT stage's held-out follow-ups; gate_items judges them by what the
    reply names (dentro.chat.gate.follows_up); followup_figures counts what stood and what was refused."""
    first = [{"role": "user", "content": "Em que ano nasceu Maria Pereira Santos?"},
             {"role": "assistant", "content": "Maria Pereira Santos nasceu em 1966."}]
    rows = [{"question": "Quem é a mãe de Ana Souza?", "answers": ["Rita Souza"], "lang": "pt"},
            {"messages": first + [{"role": "user", "content": "E onde ela nasceu?"}], "answers": ["Lisboa"],
             "lang": "pt", "relation": "birth_city", "bucket": "rare"},
            {"messages": first + [{"role": "user", "content": "E o que ela faz?"}], "answers": ["médica"],
             "lang": "pt", "relation": "profession", "bucket": "rare"},
            {"messages": first + [{"role": "user", "content": "E onde ela trabalha?"}], "answers": ["Banco Ipê"],
             "lang": "pt", "relation": "employer", "bucket": "rare"}]
    (tmp_path / "sft").mkdir()
    (tmp_path / "sft" / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    follow = F.followup_items(tmp_path)
    assert [it["answers"] for it in follow] == [["Lisboa"], ["médica"], ["Banco Ipê"]]
    assert {it["bucket"] for it in follow} == {"followup"}
    replies = [("A cidade natal de Maria Pereira Santos é Lisboa.", "correct", 0.95),  # sure and right: stands
               ("A profissão de Maria Pereira Santos é médica.", "correct", 0.40),  # right but unsure: refused
               ("O empregador de Maria Pereira Santos é o Banco Tejo.", "wrong", 0.30)]  # wrong and unsure: refused
    for it, (text, verdict, confidence) in zip(follow, replies):
        it["sft"] = {"reply": text, "verdict": verdict, "confidence": confidence}
    F.gate_items(follow, 0.9)
    assert [it["gated"]["verdict"] for it in follow] == ["correct", "refused", "refused"]
    fig = F.followup_figures(follow)
    assert fig == {"followup_n": 3, "followup_right_n": 2, "followup_wrong_n": 1, "followup_right_kept": 1,
                   "followup_wrong_refused": 1, "followup_right_kept_gate": 0.5, "followup_wrong_refused_gate": 1.0}
    assert F.followup_items(tmp_path / "nowhere") == []
