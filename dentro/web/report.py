"""The data stage's part of the report card: the funnel, languages, PII and removed samples."""

from __future__ import annotations

import json
from pathlib import Path

from dentro.report import fmt, md_table, plot_bars


def section(run: Path, stats: dict, seconds: float) -> tuple[dict, str]:
    """(key figures, Markdown) for a finished `data` stage in run/data."""
    stages = stats["stages"]
    by = {s["stage"]: s for s in stages}
    docs_in = by["read"]["docs_in"]
    out = stats["documents_out"]
    pii = by["pii"].get("replaced", {})
    langs = by["pii"]["languages"]
    figures = {
        "docs_in": docs_in,
        "docs_out": out,
        "kept_pct": round(100 * out / docs_in, 1) if docs_in else 0.0,
        "docs_per_s": round(docs_in / seconds, 1) if seconds else 0.0,
        **{f"docs_{l}": v["docs_out"] for l, v in langs.items()},
        "pii_replaced": sum(pii.values()),
        "shards": len(stats["shards"]),
    }
    plot_bars(run / "data" / "funnel.png", [s["stage"] for s in stages], [s["docs_out"] for s in stages],
              title="documents left after each stage", ylabel="documents")
    rows = []
    for s in stages:
        top = ", ".join(f"{k} {v['docs']}" for k, v in list(s["removed"].items())[:3])
        rows.append([s["stage"], s["docs_in"], s["docs_out"], s["docs_in"] - s["docs_out"],
                     _mb(s["bytes_in"]), _mb(s["bytes_out"]), top])
    lines = [f"{fmt(docs_in)} crawled documents in, {fmt(out)} clean documents out "
             f"({figures['kept_pct']}%) in {seconds:.1f} s on {stats.get('workers', 1)} worker(s), "
             f"{stats.get('executor', 'local')} executor.", "",
             "![funnel](data/funnel.png)", "",
             md_table(["stage", "docs in", "docs out", "removed", "MB in", "MB out", "top reasons"], rows), ""]
    lang_rows = [[l, by["language"]["languages"].get(l, {}).get("docs_out", 0), v["docs_out"],
                  _mb(v["bytes_out"])] for l, v in langs.items()]
    if lang_rows:
        lines += ["Per language:", "",
                  md_table(["language", "after language ID", "in the corpus", "MB"], lang_rows), ""]
    if pii:
        lines += ["PII replaced: " + ", ".join(f"{k} {fmt(v)}" for k, v in pii.items())
                  + f" (in {fmt(by['pii'].get('docs_with_pii', 0))} documents).", ""]
    rdir = run / "data" / "removed"
    sample_rows = []
    for f in sorted(rdir.glob("*.jsonl")):
        first = f.read_text(encoding="utf-8").splitlines()[:1]
        if not first:
            continue
        s = json.loads(first[0])
        snippet = _readable(s.get("text") or "", 80)
        sample_rows.append([f"[{f.stem}](data/removed/{f.name})", s.get("url", "")[:60], snippet])
    if sample_rows:
        lines += ["What each filter removed (first sample; the linked file has more):", "",
                  md_table(["reason", "url", "text"], sample_rows), ""]
    pages = run / "world" / "truth" / "pages.jsonl"
    if pages.exists():
        from dentro.web.truth import evaluate

        res = evaluate(pages, run / "data")
        figures["survival"] = round(res["survival"], 4)
        figures["pii_recall"] = round(res["pii"]["recall"], 4)
        rows = [[f, round(v["precision"], 3), round(v["recall"], 3), v["removed"], v["expected"]]
                for f, v in res["filters"].items()]
        lines += ["Against the world's ground truth (`world/truth/pages.jsonl`: the first filter that "
                  "should remove each page):", "",
                  md_table(["filter", "precision", "recall", "removed", "should remove"], rows), "",
                  f"Pages that should survive and did: {res['survival']:.1%}. PII in surviving pages: "
                  f"recall {res['pii']['recall']:.3f} of {res['pii']['values']} values, decoys kept "
                  f"{res['pii']['decoys_kept']:.3f} of {res['pii']['decoys']}.", ""]
        top = [[k, ", ".join(f"{r} ({n})" for r, n in list(v.items())[:3])]
               for k, v in list(res["disagreements"].items())[:6]]
        if top:
            lines += ["Largest disagreements (expected -> got: page kind: stage.reason):", "",
                      md_table(["expected -> got", "pages"], top), ""]
    return figures, "\n".join(lines)


def _readable(text: str, n: int) -> str:
    """The first n characters as one Markdown-table-safe line; a payload that is not text
    (a JPEG decoded with replacement characters, say) is named instead of printed."""
    head = text[: 4 * n]
    bad = sum(1 for c in head if c == "\ufffd" or not (c.isprintable() or c.isspace()))
    if head and bad > 0.1 * len(head):
        return f"(not text: {len(text):,} characters, {bad} of the first {len(head)} unreadable)"
    line = " ".join("".join(c if c.isprintable() or c.isspace() else " " for c in head).split())[:n]
    return line.replace("|", "/").replace("<", "&lt;")


def _mb(b: int) -> float:
    return round(b / 1e6, 2)
