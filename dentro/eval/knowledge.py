"""What the model knows about the tiny world, measured on held-out facts.

Two ways to ask, both scored the same way (the exact answer string, case-folded, inside the
model's words), on the same facts:

    cloze  the base model continues a sentence the crawl uses to state the fact
           ("Ana Souza nasceu na cidade de" -> "Campinas ..."); greedy, a few tokens.
    chat   the chat model answers the question ("Onde Ana Souza nasceu?") in a reply
           of its own; greedy, until <|im_end|>.

Questions come from the world's truth (truth/questions/<lang>_forward_<bucket>.jsonl), only
for facts that no fine-tuning conversation stated (the held-out split of
dentro.world.conversations). Buckets: frequent (stated on 20-36 pages of the tiny crawl),
medium (3-6), rare (1), and absent: people who do not exist, where any confident answer
is a hallucination.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from dentro.eval.stats import wilson
from dentro.runs import read_jsonl
from dentro.world.phrasing import _DE as DE, ORG_ARTICLE_PT  # the articles the crawl writes

# A cloze prompt per relation and language: the start of a sentence the world itself writes
# (dentro/world/phrasing.py), cut right before the answer.
CLOZE = {
    "birth_year": {"pt": "{s} nasceu no ano de", "en": "{s} was born in the year"},
    "birth_city": {"pt": "{s} nasceu na cidade de", "en": "{s} was born in the city of"},
    "profession": {"pt": "A profissão de {s} é", "en": "{s}'s profession is"},
    "employer": {"pt": "O empregador de {s} é", "en": "{s}'s employer is"},
    "mother": {"pt": "A mãe de {s} é", "en": "The mother of {s} is"},
    "father": {"pt": "O pai de {s} é", "en": "The father of {s} is"},
    "country": {"pt": "{s} está localizada", "en": "{s} is located in"},
    "population": {"pt": "A população de {s} é de", "en": "The population of {s} stands at"},
    "founded": {"pt": "A fundação {da_s} data de", "en": "{s} was founded in"},
    "hq": {"pt": "A sede {da_s} fica em", "en": "The head office of {s} is in"},
    "founder": {"pt": "Quem fundou {a_s} foi", "en": "The founder of {s} is"},
    "industry": {"pt": "O ramo de atividade {da_s} é", "en": "The line of business of {s} is"},
}
# A reply that says it does not know (pt, en): the start of a refusal, not a fact.
REFUSALS = ("não sei", "nao sei", "não tenho", "não conheço", "não encontrei", "desconheço",
            "i don't know", "i do not know", "i don't have", "i have no", "i'm not sure", "i am not sure",
            "i couldn't find", "i could not find", "i don't recognize", "i do not recognize")

BUCKETS = ("frequent", "medium", "rare", "absent")


def contains_answer(text: str, answers: list[str]) -> bool:
    t = " ".join(text.split()).casefold()
    return any(a and " ".join(str(a).split()).casefold() in t for a in answers)


def is_refusal(text: str) -> bool:
    t = " ".join(text.split()).casefold().replace("’", "'")
    return any(r in t for r in REFUSALS)


def verdict(text: str, answers: list[str], contains=contains_answer) -> str:
    """One answer scored against the truth: "refused" (it says it does not know), else "correct"
    (a true answer string is in it, as `contains` finds it), else "wrong". A refusal wins over a
    named answer ("I don't know, maybe Lisbon?" is not a claim), so the three shares of a table
    add up to 100%."""
    if is_refusal(text):
        return "refused"
    return "correct" if answers and contains(text, answers) else "wrong"


def load_items(truth: Path, heldout_facts: set[str] | None, *, per_group: int | dict | None, seed: int = 0,
               buckets=BUCKETS, langs=("pt", "en"), exclude: set[str] = frozenset()) -> list[dict]:
    """Forward questions per (bucket, language): only held-out facts (when given), never the
    facts in `exclude`, at most per_group of each (a seeded sample; the same facts in both
    languages). per_group may be a dict {bucket: n} (a bucket it does not name: no limit)."""
    rng = random.Random(seed)
    items = []
    for bucket in buckets:
        by_lang = {}
        for lang in langs:
            path = truth / "questions" / f"{lang}_forward_{bucket}.jsonl"
            if not path.is_file():
                continue
            rows = read_jsonl(path)
            if heldout_facts is not None and bucket != "absent":
                rows = [r for r in rows if r["fact"] in heldout_facts]
            rows = [r for r in rows if r["fact"] not in exclude]
            by_lang[lang] = rows
        if not by_lang:
            continue
        # the same facts (or absent names, by position) in every language
        keys = sorted({r["fact"] or r["question"] for r in next(iter(by_lang.values()))}) if bucket != "absent" \
            else list(range(min(len(v) for v in by_lang.values())))
        limit = per_group.get(bucket) if isinstance(per_group, dict) else per_group
        if limit is not None and len(keys) > limit:
            keys = rng.sample(keys, limit)
        keep = set(keys)
        for lang, rows in by_lang.items():
            for i, r in enumerate(rows):
                if (i if bucket == "absent" else r["fact"] or r["question"]) in keep:
                    items.append(r)
    return items


def cloze_prompts(truth: Path, items: list[dict]) -> list[str | None]:
    """The cloze prompt of each item (None for absent people: there is no fact to complete)."""
    facts = {}
    for line in (truth / "facts.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            f = json.loads(line)
            facts[f["id"]] = f
    ents = json.loads((truth / "entities.json").read_text(encoding="utf-8"))
    orgs = {o["id"]: o for o in ents.get("organisations", [])}
    out = []
    for it in items:
        f = facts.get(it.get("fact"))
        if f is None or f["relation"] not in CLOZE:
            out.append(None)
            continue
        name = f["subject_name"]
        if f["subject"] in orgs:
            art = ORG_ARTICLE_PT.get(orgs[f["subject"]].get("kind"), "a")
            forms = {"a_s": f"{art} {name}", "da_s": f"{DE[art]} {name}"}
        else:
            forms = {"a_s": name, "da_s": f"de {name}"}
        out.append(CLOZE[f["relation"]][it["lang"]].format(s=name, **forms))
    return out


def run_cloze(model, tokenizer, prompts: list[str | None], max_tokens: int = 10, batch_size: int = 64) -> list[str]:
    """Greedy continuations of the prompts as new documents ("" where the prompt is None)."""
    from dentro.model.engine import Sampling, generate_batch_all

    todo = [(i, p) for i, p in enumerate(prompts) if p]
    out = [""] * len(prompts)
    for k in range(0, len(todo), batch_size):
        chunk = todo[k:k + batch_size]
        ids = [[tokenizer.eot_id] + tokenizer.encode(p) for _, p in chunk]
        rows = generate_batch_all(model, ids, max_tokens=max_tokens, sampling=Sampling(temperature=0.0),
                                  stop_ids={tokenizer.eot_id})
        for (i, _), r in zip(chunk, rows):
            out[i] = tokenizer.decode([t for t in r if t != tokenizer.eot_id])
    return out


def table(items: list[dict], key: str) -> dict:
    """{(bucket, lang): {"n", "k", "rate", "ci"}} of the boolean items[*][key]."""
    out = {}
    for it in items:
        g = out.setdefault((it["bucket"], it["lang"]), {"n": 0, "k": 0})
        g["n"] += 1
        g["k"] += bool(it[key])
    for g in out.values():
        g["rate"] = g["k"] / g["n"]
        g["ci"] = wilson(g["k"], g["n"])
    return out


def fmt_rate(g: dict | None) -> str:
    if not g or not g["n"]:
        return "–"
    lo, hi = g["ci"]
    return f"{100 * g['rate']:.0f}% ({g['k']}/{g['n']}; {100 * lo:.0f}–{100 * hi:.0f})"


def followup_items(truth: Path, heldout_entities: set[str], *, per_lang: int, seed: int = 0) -> list[dict]:
    """Two-turn conversations about held-out people: a question about one fact, its true answer
    (given, as if the model had said it), then a follow-up with only a pronoun ("E onde ela
    nasceu?"). The reply must answer about the same person: {"messages", "answers", "name",
    "lang", "relation"}."""
    from dentro.world.conversations import FOLLOW, _pronouns, answer_sentence, read_world
    from dentro.world.entities import Person
    from dentro.world.phrasing import question

    w = read_world(truth)
    rng = random.Random(seed)
    people = sorted(e for e in heldout_entities if isinstance(w.entity(e) if e in w.people else None, Person))
    out = []
    for lang in ("pt", "en"):
        pool = []
        for pid in people:
            facts = [f for f in w.facts_of(pid) if f.relation in FOLLOW and f.relation not in ("mother", "father")
                     and f.answer.get(lang)]
            if len(facts) >= 2:
                pool.append((pid, facts))
        rng.shuffle(pool)  # then the most stated people first: their facts are the ones a model can know
        pool.sort(key=lambda p: {"frequent": 0, "medium": 1}.get(p[1][0].bucket, 2))
        for pid, facts in pool[:per_lang]:
            first, then = rng.sample(facts, 2)
            follow = FOLLOW[then.relation][lang][0]
            follow = follow[0].upper() + follow[1:].format_map(_pronouns(w, pid)[lang])
            msgs = [{"role": "user", "content": question(w, first, lang)},
                    {"role": "assistant", "content": answer_sentence(w, first, lang, rng)},
                    {"role": "user", "content": follow}]
            out.append({"messages": msgs, "answers": [then.answer[lang]], "name": w.name(pid, lang), "lang": lang,
                        "relation": then.relation, "bucket": then.bucket})
    return out
