"""Question sets with answers, for knowledge probing, hallucination and the reversal curse.

truth/questions/<lang>_<direction>_<bucket>.jsonl, lang in {pt, en}:
  forward   asks the object of a fact ("Who is A's mother?" -> B), one per fact and language;
  reverse   asks the subject back, for the directional relations only ("Who is B's son?" -> A);
            `stated` says whether the crawl ever wrote the fact object-first ("both") or never
            ("forward_only": the reversal-curse set, Berglund et al. 2023);
  bucket    frequent / medium / rare, as the fact's, and "absent": questions about people who do
            not exist in the world (the right answer is "I don't know"; answer is null).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from dentro.runs import atomic_write_text
from dentro.world import lexicon as L
from dentro.world.entities import World
from dentro.world.phrasing import Q, question


def _reverse_index(w: World) -> dict[tuple, list[str]]:
    """(relation, object, gender) -> subject names: every right answer to a reverse question
    (siblings share a mother; "Who is B's son?" accepts each son)."""
    idx: dict[tuple, list[str]] = {}
    for o in w.orgs.values():
        idx.setdefault(("founder", o.founder, None), []).append(o.name)
    for p in w.people.values():
        for rel in ("mother", "father"):
            if getattr(p, rel):
                idx.setdefault((rel, getattr(p, rel), p.gender), []).append(p.name)
    return {k: sorted(v) for k, v in idx.items()}


def _reverse_answers(w: World, f, idx: dict) -> list[str]:
    gender = None if f.relation == "founder" else w.people[f.subject].gender
    return idx[(f.relation, f.object, gender)]


def write_questions(folder: Path, w: World, fact_rows: list[dict], seed: int) -> dict:
    from dentro.eval.knowledge import contains_answer  # how a reply is scored: the same match

    facts = {f.id: f for f in w.facts}
    idx = _reverse_index(w)
    files: dict[str, list] = {}
    for row in fact_rows:
        if row["pages"] == 0:
            continue  # never stated: nothing to probe
        f = facts[row["id"]]
        forward = {lang: question(w, f, lang) for lang in ("pt", "en")}
        # A question that already holds its answer measures nothing ("What industry does Tidewater
        # Construction operate in?" -> construction: a reply naming the company would count as
        # right). Left out in both languages, so that the two sets ask the same facts.
        ask_forward = not any(contains_answer(forward[lang], [f.answer[lang]]) for lang in forward)
        for lang in ("pt", "en"):
            base = {"fact": f.id, "lang": lang, "bucket": f.bucket, "relation": f.relation, "stated": f.stated,
                    "pages": row["pages"], "kept_pages": row["kept_pages"]}
            ans = f.answer[lang]
            if ask_forward:
                files.setdefault(f"{lang}_forward_{f.bucket}", []).append(
                    dict(base, direction="forward", question=forward[lang], answer=ans, answers=[ans]))
            if f.relation in ("mother", "father", "founder"):
                answers = _reverse_answers(w, f, idx)
                files.setdefault(f"{lang}_reverse_{f.bucket}", []).append(
                    dict(base, direction="reverse", question=question(w, f, lang, reverse=True),
                         answer=w.name(f.subject, lang), answers=answers))
    # Absent people: plausible names that nobody in the world has.
    rng = random.Random(f"world-absent-{seed}")
    taken = {p.name for p in w.people.values()}
    n_absent = max(10, sum(1 for r in fact_rows if r["bucket"] == "rare") // 20)
    absent = []
    while len(absent) < n_absent:
        group, gender = rng.choice(["pt", "en"]), rng.choice("fm")
        first = rng.choice((L.FIRST_PT if group == "pt" else L.FIRST_EN)[gender])
        sur = rng.sample(L.SURNAMES_PT, 2) if group == "pt" else [rng.choice(L.SURNAMES_EN)]
        name = " ".join([first] + sur)
        if name not in taken:
            taken.add(name)
            absent.append((name, rng.choice(["birth_year", "birth_city", "profession", "mother"])))
    for name, rel in absent:
        for lang in ("pt", "en"):
            files.setdefault(f"{lang}_forward_absent", []).append(
                {"fact": None, "lang": lang, "bucket": "absent", "relation": rel, "stated": None, "pages": 0,
                 "kept_pages": 0, "direction": "forward", "question": Q[rel][lang].format(s=name),
                 "answer": None, "answers": []})
    counts = {}
    for name in sorted(files):
        rows = files[name]
        for i, r in enumerate(rows):
            r["id"] = f"{name}-{i:05d}"
        atomic_write_text(folder / f"{name}.jsonl",
                          "".join(json.dumps(dict(id=r.pop("id"), **r), ensure_ascii=False) + "\n" for r in rows))
        counts[name] = len(rows)
    return counts


# Prompts a base model completes ("<name> nasceu em"), for the pretrain and sample stages.
BORN = {"pt": "{name} nasceu em", "en": "{name} was born in"}


def birth_prompts(truth: Path, people: int) -> list[dict]:
    """Birth prompts for people of the tiny world, with their true answers: the birth city
    and the birth year (both continue "nasceu em" / "was born in"), in the languages the
    pages state them in. The facts on the most kept pages come first: they are the ones a
    small model can have learned. [] when there is no world truth."""
    try:
        entities = json.loads((truth / "entities.json").read_text(encoding="utf-8"))
        facts = [json.loads(line) for line in (truth / "facts.jsonl").read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    except (OSError, ValueError):
        return []
    names = _names(entities)
    people_facts: dict[str, dict] = {}  # person id -> {"pt": [answers], "en": [...], "pages", "bucket", "langs"}
    for f in facts:
        if not isinstance(f, dict) or f.get("relation") not in ("birth_city", "birth_year"):
            continue
        subj = f.get("subject")
        name = names.get(subj) or f.get("subject_name")
        if not name:
            continue
        names[subj] = name
        a = people_facts.setdefault(subj, {"pt": [], "en": [], "pages": 0, "bucket": "?", "langs": set()})
        ans = f.get("answer")
        for lang in ("pt", "en"):
            text = (ans.get(lang) if isinstance(ans, dict) else ans) or names.get(f.get("object"), f.get("object"))
            if text is not None:
                a[lang].append(str(text))
        a["pages"] += int(f.get("kept_pages", f.get("pages", 0)) or 0)
        a["langs"].update(x for x in f.get("langs") or () if x in BORN)
        if f["relation"] == "birth_city":
            a["bucket"] = f.get("bucket", "?")
    chosen = sorted(people_facts, key=lambda s: (-people_facts[s]["pages"], s))[:people]
    return [{"lang": lang, "prompt": BORN[lang].format(name=names[s]), "answers": people_facts[s][lang],
             "bucket": people_facts[s]["bucket"], "pages": people_facts[s]["pages"]}
            for s in chosen for lang in ("pt", "en") if lang in people_facts[s]["langs"] or not people_facts[s]["langs"]]


def _names(entities) -> dict[str, str]:
    """id -> name from entities.json, whatever its grouping: {"people": {id: {...}}},
    {"people": [{"id", "name"}]}, or a flat list/dict of entities."""
    out = {}

    def add(eid, e):
        if isinstance(e, dict) and e.get("name"):
            out[str(e.get("id", eid))] = e["name"]

    groups = entities.values() if isinstance(entities, dict) else [entities]
    for g in groups:
        if isinstance(g, dict):
            for eid, e in g.items():
                add(eid, e)
        elif isinstance(g, list):
            for e in g:
                add(None, e)
    if isinstance(entities, dict):
        for eid, e in entities.items():
            add(eid, e)
    return out
