"""The world's section of the report card: tables, a bar plot, and the key figures."""

from __future__ import annotations

from pathlib import Path

from dentro.report import md_table, plot_bars


def stage_report(run: Path, stats: dict) -> tuple[dict, str]:
    kinds = stats["pages_by_kind"]
    plot_bars(run / "world" / "pages_by_kind.png", list(kinds), list(kinds.values()),
              title="tiny world: pages by kind", ylabel="pages")
    plot_bars(run / "world" / "expect.png", list(stats["expect"]), list(stats["expect"].values()),
              title="tiny world: the filter that should remove each page", ylabel="pages")
    figures = {"pages": stats["pages"], "crawl_mb": round(stats["crawl_mb"], 2), "facts": stats["facts"],
               "kept_text_mb": round(stats["kept_text_mb"], 2), "generation_s": stats["generation_seconds"],
               "math_tasks": stats["math_tasks"]}
    q = stats["questions"]
    lines = [
        f"A generated crawl of **{stats['pages']:,} pages** ({stats['crawl_mb']:.2f} MB of gzip WARC) about "
        f"{stats['people']:,} people, {stats['cities']} cities and {stats['organisations']} organisations, "
        f"generated in {stats['generation_seconds']:.1f} s. Pages a perfect pipeline keeps hold "
        f"{stats['kept_text_mb']:.2f} MB of text ({stats['kept_words']:,} words).", "",
        "![pages by kind](world/pages_by_kind.png)", "",
        md_table(["kind", "pages"], [[k, v] for k, v in kinds.items()]), "",
        md_table(["language", "pages"], [[k, v] for k, v in stats["pages_by_lang"].items()]), "",
        "Expected fate of each page (the first FineWeb-order filter that should remove it):", "",
        "![expected fate](world/expect.png)", "",
        md_table(["expect", "pages"], [[k, v] for k, v in stats["expect"].items()]), "",
        f"Facts by frequency bucket ({stats['facts_forward_only']} directional facts are written forward only, "
        f"for the reversal-curse probe):", "",
        md_table(["bucket", "facts"], [[k, v] for k, v in stats["facts_by_bucket"].items()]), "",
        md_table(["question set", "questions"], [[k, v] for k, v in q.items()]),
    ]
    return figures, "\n".join(lines)
