"""Search recall on the world's held-out facts: does the search tool's answer hold what the model must copy?

    .venv/bin/python benchmarks/search_recall.py RUN_FOLDER INDEX [--heldout HELDOUT_JSON]
        [--settings 2:300,3:500,3:1200] [--misses N]

RUN_FOLDER holds world/truth (facts.jsonl, from `dentro world`); INDEX is a search index built
from its corpus (build_index(RUN_FOLDER/data/corpus, INDEX)); HELDOUT_JSON is make_conversations'
split (default RUN_FOLDER/sft/conversations/heldout.json). For every held-out fact, in pt and in
en, it queries the index as the SFT tool conversations teach the model to (QUERY_WORD in
dentro/world/tool_conversations.py): the subject's name, and the name plus the relation's query
word ("Emily Rogers nascimento"), and that with the name quoted as the tool conversations write
it ('"Emily Rogers" nascimento': only passages holding the full name). A query counts as a hit
when the tool's response, formatted exactly as the model reads it (dentro.chat.tools._search with ToolContext(k, max_chars)),
contains the fact's answer string answer[lang] verbatim (case-sensitive): what the model has
to copy. Reported per bucket (rare, medium, frequent), per language and per setting k:max_chars.

Upper bounds, per bucket and language (a fact's page may have been dropped by the data pipeline,
and a pt query cannot find a pt answer on an en-only page): "passage" is the share of facts
whose answer string is in some passage of the index that also holds the full name (an FTS5
phrase match, case and accents folded); "doc" is the looser share whose answer string is in some
document (all its passages) that holds the full name somewhere.

Reads only: the index is opened read-only. About 20k searches; tens of seconds on one core.
Exits 0 with a message when an input is missing.
"""

import argparse
import json
import re
import sqlite3
import sys
import time
from collections import defaultdict
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dentro.chat.tools import ToolContext, _search, response_passages  # noqa: E402
from dentro.world.tool_conversations import QUERY_WORD, search_query  # noqa: E402

BUCKETS = ("rare", "medium", "frequent")
LANGS = ("pt", "en")
FORMS = ("name", "name+word", "quoted")


def _phrase(name: str) -> str:
    return '"' + " ".join(re.findall(r"\w+", name)) + '"'  # an FTS5 phrase: the name's words, in order


def upper_bounds(index: Path, facts: list[dict]) -> dict[str, dict[str, set]]:
    """{"passage": {lang: fact ids}, "doc": {lang: fact ids}}: facts whose answer string is in a
    passage (or a document) of the index that holds the full name."""
    out = {"passage": defaultdict(set), "doc": defaultdict(set)}
    by_name = defaultdict(list)
    for f in facts:
        by_name[f["subject_name"]].append(f)
    with closing(sqlite3.connect(f"file:{index}?mode=ro", uri=True)) as db:
        docs = defaultdict(list)
        for text, doc_id in db.execute("SELECT text, doc_id FROM passages"):
            docs[doc_id].append(text)
        for name, fs in by_name.items():
            rows = db.execute("SELECT text, doc_id FROM passages WHERE passages MATCH ?", (_phrase(name),)).fetchall()
            doc_texts = [" ".join(docs[d]) for d in {d for _, d in rows}]
            for f in fs:
                for lang in LANGS:
                    answer = f["answer"][lang]
                    if any(answer in text for text, _ in rows):
                        out["passage"][lang].add(f["id"])
                    if any(answer in text for text in doc_texts):
                        out["doc"][lang].add(f["id"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("index", type=Path)
    ap.add_argument("--heldout", type=Path, help="default: RUN/sft/conversations/heldout.json")
    ap.add_argument("--settings", default="2:300,3:500,3:1200", help="k:max_chars,... (default %(default)s)")
    ap.add_argument("--misses", type=int, default=0, help="print this many rare misses of the first setting")
    a = ap.parse_args()
    truth = a.run / "world" / "truth" / "facts.jsonl"
    heldout_path = a.heldout or a.run / "sft" / "conversations" / "heldout.json"
    for what, path in (("facts", truth), ("index", a.index), ("held-out split", heldout_path)):
        if not path.is_file():
            print(f"skipped: no {what} at {path}")
            return
    settings = [tuple(int(x) for x in s.split(":")) for s in a.settings.split(",")]
    held = set(json.loads(heldout_path.read_text(encoding="utf-8"))["facts"])
    facts = [f for f in map(json.loads, truth.read_text(encoding="utf-8").splitlines()) if f["id"] in held]
    if not facts:
        print(f"skipped: none of the held-out facts of {heldout_path} is in {truth}")
        return

    t0 = time.time()
    bounds = upper_bounds(a.index, facts)
    cache: dict[tuple, str] = {}

    def respond(query: str, k: int, max_chars: int) -> str:
        key = (query, k, max_chars)
        if key not in cache:
            cache[key] = response_passages(_search(query, ToolContext(index_path=a.index, k=k, max_chars=max_chars)))
        return cache[key]

    hits = defaultdict(int)  # (bucket, lang, form, setting) -> queries whose response holds the answer
    n = defaultdict(int)  # (bucket, lang) -> facts
    misses = []
    for f in facts:
        name = f["subject_name"]
        for lang in LANGS:
            n[f["bucket"], lang] += 1
            queries = {"name": name, "name+word": f"{name} {QUERY_WORD[f['relation']][lang]}",
                       "quoted": search_query(name, f["relation"], lang)}
            for s in settings:
                for form, q in queries.items():
                    response = respond(q, *s)
                    if f["answer"][lang] in response:
                        hits[f["bucket"], lang, form, s] += 1
                    elif (s == settings[0] and f["bucket"] == "rare" and f["id"] in bounds["passage"][lang]
                          and len(misses) < a.misses):
                        misses.append((q, f["answer"][lang], response))

    print(f"held-out facts: {len(facts)} ({', '.join(f'{b} {sum(n[b, l] for l in LANGS) // 2}' for b in BUCKETS)}); "
          f"{len(cache)} distinct searches; {time.time() - t0:.1f} s\n")
    cols = [f"{k}/{m} {form}" for k, m in settings for form in FORMS]
    width = max(map(len, cols)) + 2
    print("recall: share of queries whose response holds answer[lang]; passage, doc: upper bounds; "
          "k/max_chars name|name+word")
    print(f"{'bucket':9s}{'lang':5s}{'facts':>6s}{'passage':>9s}{'doc':>7s}" + "".join(c.rjust(width) for c in cols))
    for b, lang in [(b, lang) for b in BUCKETS for lang in LANGS] + [(b, "all") for b in BUCKETS]:
        langs = LANGS if lang == "all" else (lang,)
        total = sum(n[b, x] for x in langs)
        if not total:
            continue
        ids = {f["id"] for f in facts if f["bucket"] == b}
        pct = lambda x: f"{100 * x / total:.1f}%"  # noqa: E731
        line = (f"{b:9s}{lang:5s}{total:6d}{pct(sum(len(bounds['passage'][x] & ids) for x in langs)):>9s}"
                f"{pct(sum(len(bounds['doc'][x] & ids) for x in langs)):>7s}")
        line += "".join(pct(sum(hits[b, x, form, s] for x in langs)).rjust(width) for s in settings for form in FORMS)
        print(line)
    for q, answer, response in misses:
        print(f"\nmiss: query {q!r}, answer {answer!r}\n{response}")


if __name__ == "__main__":
    main()
