"""The report card: one Markdown page per run, with each stage's figures and plots.

Each stage writes two files into its folder (see dentro/runs.py):
    summary.json   {"stage", "title", "seconds", "figures": {name: value}}
    section.md     free Markdown for the stage's part of the card; image paths in it
                   are relative to the run folder (for example `pretrain/loss.png`).
`build_report` puts them together in stage order, so the card can be rebuilt at any
time, also from a run that was killed half way.
"""

from __future__ import annotations

import datetime as _dt
import platform
from pathlib import Path

from dentro.runs import atomic_write_json, atomic_write_text, read_json


def write_stage(stage_dir: Path, stage: str, title: str, seconds: float, figures: dict,
                section: str | None = None) -> None:
    """Record a finished stage. summary.json goes last: it is the "done" marker."""
    stage_dir.mkdir(parents=True, exist_ok=True)
    if section is not None:
        atomic_write_text(stage_dir / "section.md", section.rstrip() + "\n")
    atomic_write_json(stage_dir / "summary.json",
                      {"stage": stage, "title": title, "seconds": round(seconds, 3), "figures": figures})


def fmt(v) -> str:
    """Numbers the way a person reads them: 12,345 / 0.9512 / 3.2e-05."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 0.01:
            return f"{v:.4g}"
        return f"{v:.2e}"
    return str(v)


def md_table(headers: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(fmt(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def fmt_seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def build_report(run: Path, stages: list[str], preset: str | None = None) -> Path:
    """Assemble run/report.md from the stages' summaries and sections, in the given order."""
    done = []
    for name in stages:
        p = run / name / "summary.json"
        if p.exists():
            done.append((name, read_json(p)))
    lines = [f"# dentro report card: `{run.name}`", ""]
    meta = [f"written {_dt.datetime.now().isoformat(timespec='seconds')}",
            f"machine: {platform.machine()}, {platform.system()}, Python {platform.python_version()}"]
    if preset:
        meta.insert(0, f"preset `{preset}`")
    lines += [" · ".join(meta), ""]
    if not done:
        lines += ["No stage has finished yet."]
    else:
        total = sum(s["seconds"] for _, s in done)
        rows = []
        for name, s in done:
            key = ", ".join(f"{k} {fmt(v)}" for k, v in list(s["figures"].items())[:4])
            rows.append([s.get("title", name), fmt_seconds(s["seconds"]), key])
        lines += ["## At a glance", "", md_table(["stage", "time", "key figures"], rows), "",
                  f"Total: {fmt_seconds(total)}.", ""]
        missing = [n for n in stages if n not in dict(done)]
        if missing:
            lines += [f"Not run yet: {', '.join(missing)}.", ""]
        for name, s in done:
            lines += [f"## {s.get('title', name)}", ""]
            sec = run / name / "section.md"
            if sec.exists():
                lines += [sec.read_text(encoding="utf-8").rstrip(), ""]
            else:
                lines += [md_table(["figure", "value"], [[k, v] for k, v in s["figures"].items()]), ""]
    out = run / "report.md"
    atomic_write_text(out, "\n".join(lines))
    return out


def plot_lines(path: Path, series: dict[str, tuple[list, list]], *, title: str, xlabel: str,
               ylabel: str, logy: bool = False) -> Path:
    """A PNG line plot: series maps a label to (xs, ys)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for label, (xs, ys) in series.items():
        ax.plot(xs, ys, label=label, linewidth=1.5)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_bars(path: Path, labels: list[str], values: list[float], *, title: str, ylabel: str = "") -> Path:
    """A PNG bar chart, one bar per label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(5, 0.5 * len(labels) + 2), 4), dpi=110)
    ax.bar(range(len(labels)), values, color="#4a7bb7")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
