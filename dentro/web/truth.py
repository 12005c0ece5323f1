"""Score a finished data stage against the tiny world's ground truth (world/truth/pages.jsonl).

Each page's `expect` names the first filter, in FineWeb's order, that should remove it ("keep" if
none). Per filter: precision = share of the pages it removed that it should have removed; recall =
share of the pages it should have removed that it did. Survival = share of the "keep" pages that
reach the corpus. PII: in surviving pages, every listed PII value must be gone and every decoy kept.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq

from dentro.web.pii import PLACEHOLDER

GROUP = {"url": "url", "extraction": "extraction", "language": "language", "dedup": "dedup",
         "gopher_repetition": "quality", "gopher_quality": "quality", "c4": "quality", "fineweb": "quality"}
FILTERS = ("url", "extraction", "language", "quality", "dedup")


def evaluate(pages_jsonl: Path, data_dir: Path) -> dict:
    pages = [json.loads(l) for l in open(pages_jsonl, encoding="utf-8")]
    removed = {r["url"]: r for r in pq.read_table(data_dir / "removed.parquet").to_pylist()}
    corpus = {}
    for f in sorted((data_dir / "corpus").glob("*.parquet")):
        for r in pq.read_table(f, columns=["url", "text"]).to_pylist():
            corpus[r["url"]] = r["text"]
    got = {}
    for p in pages:
        u = p["url"]
        got[u] = "keep" if u in corpus else GROUP[removed[u]["stage"]] if u in removed else "read"
    res: dict = {"pages": len(pages), "filters": {}}
    for f in FILTERS:
        pred = {u for u, g in got.items() if g == f}
        true = {p["url"] for p in pages if p["expect"] == f}
        tp = len(pred & true)
        res["filters"][f] = {"precision": tp / len(pred) if pred else 1.0,
                             "recall": tp / len(true) if true else 1.0,
                             "removed": len(pred), "expected": len(true)}
    keep = [p["url"] for p in pages if p["expect"] == "keep"]
    res["survival"] = sum(got[u] == "keep" for u in keep) / len(keep) if keep else 1.0
    wrong: dict = defaultdict(Counter)
    for p in pages:
        if p["expect"] != got[p["url"]]:
            r = removed.get(p["url"], {})
            wrong[f"{p['expect']} -> {got[p['url']]}"][f"{p['kind']}: {r.get('stage', '-')}.{r.get('reason', '-')}"] += 1
    res["disagreements"] = {k: dict(c.most_common(8)) for k, c in sorted(wrong.items(), key=lambda kv: -sum(kv[1].values()))}

    found = missed = decoys = decoys_kept = placeholders = occurrences = 0
    for p in pages:
        text = corpus.get(p["url"])
        if text is None:
            continue
        for item in p["pii"]:
            occurrences += max(1, p["main_text"].count(item["value"]))
            if item["value"] in text:
                missed += 1
            else:
                found += 1
        for d in p["pii_decoys"]:
            decoys += 1
            decoys_kept += d in text
        placeholders += sum(text.count(v) for v in PLACEHOLDER.values())
    res["pii"] = {"recall": found / (found + missed) if found + missed else 1.0,
                  # placeholders beyond the PII occurrences the truth lists are false positives
                  "precision": min(1.0, occurrences / placeholders) if placeholders else 1.0,
                  "values": found + missed, "placeholders": placeholders,
                  "decoys_kept": decoys_kept / decoys if decoys else 1.0, "decoys": decoys}
    return res
