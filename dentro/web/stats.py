"""Counting what every stage did: documents and bytes in and out, per language and per reason.

Counts are kept flat (a Counter keyed by tuples) so that the per-task counts of a parallel run add
up with `+`; `nested` turns them into the stats.json layout:

    {"stages": [{"stage": "url", "docs_in": N, "bytes_in": B, "docs_out": N, "bytes_out": B,
                 "removed": {reason: {"docs": N, "bytes": B, "languages": {lang: N}}},
                 "languages": {lang: {"docs_in": N, "docs_out": N, "bytes_in": B, "bytes_out": B}}}, ...]}

Before language identification a document's language is not known: it is counted as "?".
"""

from __future__ import annotations

from collections import Counter

STAGES = ("read", "url", "extraction", "language", "gopher_repetition", "gopher_quality", "c4",
          "fineweb", "dedup", "pii")
UNKNOWN = "?"


class Stats:
    def __init__(self, counts: Counter | None = None):
        self.c: Counter = counts if counts is not None else Counter()

    def enter(self, stage: str, lang: str, nbytes: int) -> None:
        c = self.c
        c[(stage, "docs_in")] += 1
        c[(stage, "bytes_in")] += nbytes
        c[(stage, "lang", lang, "docs_in")] += 1
        c[(stage, "lang", lang, "bytes_in")] += nbytes

    def leave(self, stage: str, lang: str, nbytes: int) -> None:
        c = self.c
        c[(stage, "docs_out")] += 1
        c[(stage, "bytes_out")] += nbytes
        c[(stage, "lang", lang, "docs_out")] += 1
        c[(stage, "lang", lang, "bytes_out")] += nbytes

    def remove(self, stage: str, reason: str, lang: str, nbytes: int) -> None:
        c = self.c
        c[(stage, "removed", reason, "docs")] += 1
        c[(stage, "removed", reason, "bytes")] += nbytes
        c[(stage, "removed", reason, "lang", lang)] += 1
        c[(stage, "lang", lang, "removed")] += 1

    def add(self, key: tuple, n: int = 1) -> None:
        self.c[key] += n

    def __iadd__(self, other: "Stats") -> "Stats":
        self.c.update(other.c)
        return self

    # JSON has no tuple keys: tasks store the counter as [[key..., value], ...]
    def to_rows(self) -> list:
        return [[*k, v] for k, v in sorted(self.c.items(), key=lambda kv: tuple(map(str, kv[0])))]

    @classmethod
    def from_rows(cls, rows: list) -> "Stats":
        return cls(Counter({tuple(r[:-1]): r[-1] for r in rows}))

    def nested(self) -> dict:
        stages = []
        for s in STAGES:
            c = self.c
            d = {"stage": s, "docs_in": c[(s, "docs_in")], "bytes_in": c[(s, "bytes_in")],
                 "docs_out": c[(s, "docs_out")], "bytes_out": c[(s, "bytes_out")],
                 "removed": {}, "languages": {}}
            for k, v in c.items():
                if k[0] == s and len(k) == 5 and k[1] == "removed":   # (stage, removed, reason, lang, xx)
                    r = d["removed"].setdefault(k[2], {"docs": 0, "bytes": 0})
                    r.setdefault("languages", {})[k[4]] = v
                if k[0] != s or len(k) != 4:
                    continue
                if k[1] == "removed":
                    d["removed"].setdefault(k[2], {"docs": 0, "bytes": 0})[k[3]] = v
                elif k[1] == "lang":
                    d["languages"].setdefault(k[2], {"docs_in": 0, "docs_out": 0, "bytes_in": 0,
                                                     "bytes_out": 0, "removed": 0})[k[3]] = v
            d["removed"] = dict(sorted(d["removed"].items(), key=lambda kv: -kv[1]["docs"]))
            d["languages"] = dict(sorted(d["languages"].items(), key=lambda kv: -kv[1]["docs_in"]))
            stages.append(d)
        return {"stages": stages}
