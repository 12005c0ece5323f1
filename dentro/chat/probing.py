"""Knowledge probing: find out what the chat model knows, and teach it to say when it does not.

The recipe of The Llama 3 Herd of Models (arXiv:2407.21783, section 4.3.6, Factuality), on
facts whose truth we hold instead of snippets judged by a bigger model:

    items     questions with their true answers: the world's facts outside the held-out split
              (world_items), or a user's question/answer pairs (read_qa_pairs)
    probe     each question asked k times, sampled at temperature T, through the KV-cache
              engine in batches (reply_batch), plus once greedily (what `dentro chat` answers)
    score     each answer: refused / correct / wrong (dentro.eval.knowledge.verdict)
    decide    known when at least min_correct of the k answers are correct, else unknown
    build     conversations: a true answer for the known, "Não sei" / "I don't know" with a
              short reason in the question's language for the unknown, refusals for people
              who do not exist (invented names), and a share of the SFT conversations
              replayed so that the rest of what SFT taught is not forgotten (build_mix)

Only the form of the reply is taught: the fine-tuning that follows never states a held-out
fact, so whatever the model answers about those afterwards still comes from pretraining.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from dentro.eval.knowledge import verdict

LANGS = ("pt", "en")

# Refusals: "Não sei" / "I don't know" first (what dentro.eval.knowledge.is_refusal looks for),
# then a short reason. The reasons name nobody: a small model asked to repeat a name it does not
# know garbles it ("... sobre Portugin"), and the name adds nothing to the reason.
REFUSE_FACT = {
    "pt": ["Não sei. Não tenho informações confiáveis para responder a isso.",
           "Não sei responder com segurança: isso não está no que aprendi.",
           "Não sei. Prefiro não inventar uma resposta."],
    "en": ["I don't know. I don't have reliable information to answer that.",
           "I don't know for sure: that is not in what I learned.",
           "I don't know. I'd rather not make up an answer."]}
REFUSE_NOBODY = {
    "pt": ["Não sei quem é essa pessoa: não conheço ninguém com esse nome.",
           "Não sei. Não tenho nenhuma informação sobre alguém com esse nome.",
           "Não sei: esse nome não aparece em nada do que aprendi."],
    "en": ["I don't know who that is: I don't know anyone by that name.",
           "I don't know. I have no information about anyone with that name.",
           "I don't know: that name does not appear in anything I learned."]}
# What people who do not exist are asked about: the relations of the world's absent questions
# (dentro/world/questions.py) and the other person relations.
NOBODY_RELATIONS = ("birth_year", "birth_city", "profession", "employer", "mother", "father")
# SFT conversations replayed whole, whatever the replay share: refusing them is never right.
# "Who are you?" was answered "I don't know..." after probing without them (94 steps, tiny), and
# reading conversations (a passage, then a question about a person nobody knows) are the skill
# the search tool needs.
ALWAYS_REPLAY = ("identity", "reading")
# at most this many of a kind's conversations replayed (a seeded sample): SFT's identity conversations
# grew from 200 to 600 (held-out phrasings, docs/sft.md), and all of them would take the replay's room
# from the fact conversations that keep the answers SFT taught
ALWAYS_REPLAY_MAX = {"identity": 200}


def refusal(lang: str, rng: random.Random, *, nobody: bool = False) -> str:
    """A refusal with a reason in `lang` (pt or en; anything else gets English)."""
    lang = lang if lang in LANGS else "en"
    return rng.choice((REFUSE_NOBODY if nobody else REFUSE_FACT)[lang])


# -- the questions ----------------------------------------------------------------------------

def world_items(truth: Path, heldout: dict, *, per_bucket: int | None, seed: int = 0) -> list[dict]:
    """Forward questions about facts outside the evaluation split: a seeded sample of at most
    per_bucket facts per bucket (frequent/medium/rare), each asked in Portuguese and English.
    Besides the held-out facts, the facts whose answer is a held-out entity ("A's mother is
    <held-out B>") are left out too: SFT never named a held-out entity, nor does probing."""
    from dentro.eval.knowledge import load_items

    facts = {}
    for line in (truth / "facts.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            f = json.loads(line)
            facts[f["id"]] = f
    held_entities = set(heldout.get("entities", []))
    exclude = set(heldout.get("facts", [])) | {i for i, f in facts.items()
                                                if isinstance(f["object"], str) and f["object"] in held_entities}
    items = load_items(truth, None, per_group=per_bucket, seed=seed, buckets=("frequent", "medium", "rare"),
                       exclude=exclude)
    for it in items:
        it["subject"] = facts[it["fact"]]["subject_name"]
        it["source"] = "world"
    return items


def read_qa_pairs(path: Path) -> tuple[list[dict], dict]:
    """A user's questions with their answers, JSONL, one per line:
        {"question": "...", "answer": "..." or "answers": ["...", ...], "lang": "pt"}
    ("lang" optional: detected when missing; "bucket" optional, kept for the tables).
    Bad lines are skipped and counted by reason with their line numbers, never a crash:
    (items, {"kept", "skipped": {reason: n}, "skipped_lines": {reason: [line numbers]}})."""
    from dentro.web.language import identify

    items, skipped, where = [], {}, {}

    def skip(reason: str, n: int) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1
        where.setdefault(reason, []).append(n)

    for n, line in enumerate(Path(path).read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            skip("not_json", n)
            continue
        if not isinstance(row, dict) or not isinstance(row.get("question"), str) or not row["question"].strip():
            skip("no_question", n)
            continue
        answers = row.get("answers", [row["answer"]] if "answer" in row else [])
        if not isinstance(answers, list) or not answers or \
                not all(isinstance(a, (str, int, float)) and str(a).strip() for a in answers):
            skip("no_answer", n)
            continue
        lang = row.get("lang") or identify(row["question"])[0]
        items.append({"id": f"{Path(path).name}:{n}", "fact": None, "question": row["question"].strip(),
                      "answers": [str(a).strip() for a in answers], "lang": str(lang),
                      "bucket": str(row.get("bucket") or "user"), "subject": None, "source": str(path),
                      "line": n})
    return items, {"kept": len(items), "skipped": skipped, "skipped_lines": where}


# -- probing ----------------------------------------------------------------------------------

def probe(model, tokenizer, items: list[dict], *, k: int, temperature: float, max_tokens: int = 48,
          seed: int = 0, chunk: int = 32, desc: str = "probe") -> None:
    """Ask every item's question k times (sampled) and once greedily, in place: each item gains
    "samples" [{"text", "verdict"}] (k of them), "n_correct", "n_refused", "greedy",
    "greedy_verdict" and "greedy_confidence" (dentro.chat.gate). `chunk` questions (chunk x k
    replies) go through the engine at a time, each chunk with its own seed, so a run is
    reproducible and the bar moves."""
    from dentro.chat.assistant import reply_batch
    from dentro.model.engine import Sampling
    from dentro.progress import bar

    sampling = Sampling(temperature=temperature)
    with bar(total=len(items), desc=desc, unit="q") as pbar:
        for c, start in enumerate(range(0, len(items), chunk)):
            part = items[start:start + chunk]
            convs = [[{"role": "user", "content": it["question"]}] for it in part]
            sampled = reply_batch(model, tokenizer, [cv for cv in convs for _ in range(k)], max_tokens=max_tokens,
                                  sampling=sampling, seed=seed + c)  # k copies of a question side by side
            greedy = reply_batch(model, tokenizer, convs, max_tokens=max_tokens, confidence=True)
            for i, it in enumerate(part):
                texts = [r["text"] for r in sampled[i * k:(i + 1) * k]]
                it["samples"] = [{"text": t, "verdict": verdict(t, it["answers"])} for t in texts]
                it["n_correct"] = sum(s["verdict"] == "correct" for s in it["samples"])
                it["n_refused"] = sum(s["verdict"] == "refused" for s in it["samples"])
                it["greedy"] = greedy[i]["text"]
                it["greedy_verdict"] = verdict(greedy[i]["text"], it["answers"])
                it["greedy_confidence"] = greedy[i]["confidence"]
            pbar.update(len(part))


def decide(items: list[dict], min_correct: int) -> None:
    """known when at least min_correct of an item's k sampled answers were correct, in place
    ("decision": "known" | "unknown")."""
    for it in items:
        it["decision"] = "known" if it["n_correct"] >= min_correct else "unknown"


def summary(items: list[dict]) -> dict:
    """{"bucket/lang": {"n", "known", "unknown", "mean_correct" (of k), "known_greedy_correct",
    "unknown_greedy_correct"}}: how often the decision agrees with the greedy answer."""
    out: dict[str, dict] = {}
    for it in items:
        g = out.setdefault(f"{it['bucket']}/{it['lang']}", {"n": 0, "known": 0, "unknown": 0, "sum_correct": 0,
                                                             "known_greedy_correct": 0,
                                                             "unknown_greedy_correct": 0})
        g["n"] += 1
        g[it["decision"]] += 1
        g["sum_correct"] += it["n_correct"]
        g[f"{it['decision']}_greedy_correct"] += it["greedy_verdict"] == "correct"
    for g in out.values():
        g["mean_correct"] = round(g.pop("sum_correct") / g["n"], 3)
    return out


# -- the conversations ------------------------------------------------------------------------

def probe_conversations(items: list[dict], rng: random.Random, *, world=None, phrasings: int = 2) -> list[dict]:
    """A conversation per decided item and phrasing: the probed question first, then (world
    facts only) paraphrases as SFT asked them (direct, indirect, typos). Known: a true answer
    sentence (world facts) or the model's own first correct answer (a user's pairs). Unknown:
    a refusal in the item's language. conv: {"messages", "kind" (probe_known / probe_unknown),
    "lang", "sources"}."""
    from dentro.world.conversations import _name_words, _noisy, _question, answer_sentence

    facts = {f.id: f for f in world.facts} if world is not None else {}
    out = []
    for it in items:
        f = facts.get(it.get("fact"))
        questions = [it["question"]]
        if f is not None:
            questions += [_noisy(_question(world, f, it["lang"], rng), _name_words(world, f, it["lang"]), rng)
                          for _ in range(phrasings - 1)]
        for q in questions:
            if it["decision"] == "unknown":
                reply = refusal(it["lang"], rng)
            elif f is not None:
                reply = answer_sentence(world, f, it["lang"], rng)
            else:
                reply = next(s["text"] for s in it["samples"] if s["verdict"] == "correct")
            out.append({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": reply}],
                        "kind": f"probe_{it['decision']}", "lang": it["lang"],
                        "sources": [it["fact"] or it["id"]]})
    return out


def nobody_conversations(world, truth: Path, n: int, rng: random.Random, avoid: str = "") -> list[dict]:
    """n questions about people who do not exist, each answered with a refusal in its language.
    The names are invented here (dentro.world.conversations' name generator): nobody's in the
    world, none of the absent people the evaluation asks about (truth/questions/*_absent.jsonl),
    and none that occurs in `avoid` (the text of the replayed conversations)."""
    from dentro.world.conversations import _absent_names, _invent_people, _question
    from dentro.world.entities import Fact

    taken = {e.name for t in (world.people, world.cities, world.orgs) for e in t.values()} | _absent_names(truth)
    wx, invented = _invent_people(world, 2 * n, taken, sorted(world.cities), sorted(world.orgs), rng)
    out = []
    for pid in sorted(invented):
        name = wx.people[pid].name
        if name in avoid:
            continue
        lang = LANGS[rng.randrange(2)]
        rel = rng.choice(NOBODY_RELATIONS)
        # A question needs a Fact; its answer is never shown ("?" only fills the template context).
        ask = Fact(f"{pid}-{rel}", pid, rel, None, "absent", 0, answer={"pt": "?", "en": "?"})
        msgs = [{"role": "user", "content": _question(wx, ask, lang, rng)},
                {"role": "assistant", "content": refusal(lang, rng, nobody=True)}]
        out.append({"messages": msgs, "kind": "probe_nobody", "lang": lang, "sources": [], "name": name,
                    "relation": rel})
        if len(out) == n:
            break
    return out


def build_mix(probed: list[dict], nobody: list[dict], replay: list[dict], *, replay_frac: float,
              unknown: set[str], rng: random.Random, val_frac: float = 0.05,
              always: tuple[str, ...] = ALWAYS_REPLAY, tools: list[dict] = ()) -> tuple[list, list, dict]:
    """The fine-tuning mix: the probe's conversations, the refusals about nobody, and
    replay_frac x as many SFT conversations so that the rest of what SFT taught is kept: every
    conversation of the `always` kinds (at most ALWAYS_REPLAY_MAX of a kind), then a seeded sample
    of the others (no replay at all when replay_frac is 0), and the tool conversations
    (dentro.chat.tool_mix; their answers come from the tool's result, so an unknown fact does not
    drop them). A replayed
    conversation that states a fact the probe found unknown is left out: it would teach the
    confident answer back. -> (train, val, {"kind": count, ..., "replay_dropped_unknown": n})."""
    usable = [c for c in replay if not set(c.get("sources", [])) & unknown]
    first = [c for c in usable if c.get("kind") in always]
    for kind, most in ALWAYS_REPLAY_MAX.items():   # its own seeded sample: rng's draws stay as they were
        group = [c for c in first if c.get("kind") == kind]
        if len(group) > most:
            chosen = {id(c) for c in random.Random(f"replay-{kind}").sample(group, most)}
            first = [c for c in first if c.get("kind") != kind or id(c) in chosen]
    rest = [c for c in usable if c.get("kind") not in always]
    rng.shuffle(rest)
    n = round(replay_frac * (len(probed) + len(nobody)))
    replayed = (first + rest)[:max(n, len(first)) if n else 0]
    mix = probed + nobody + replayed + list(tools)
    rng.shuffle(mix)
    n_val = max(1, round(len(mix) * val_frac)) if len(mix) >= 2 else 0
    val, train = mix[:n_val], mix[n_val:]
    stats = {"replay_dropped_unknown": len(replay) - len(usable)}
    kinds = [c.get("kind") if str(c.get("kind", "")).startswith("probe_") else "replay" for c in probed + nobody]
    kinds += ["replay"] * len(replayed) + [f"tools_{c.get('kind')}" for c in tools]
    for kind in kinds:
        stats[kind] = stats.get(kind, 0) + 1
    return train, val, stats
