"""Run every built stage in order into one run folder, then write the report card.

A stage is a module in dentro/commands/ that defines
    TITLE: str
    run_stage(run: Path, preset: str) -> tuple[dict, str]   # (key figures, report section)
It reads its inputs from the earlier stages' folders in `run` and writes into run/<name>/.
A stage whose summary.json exists is done and skipped, so a killed speedrun picks up
where it stopped; --fresh starts over.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import time
import traceback
from pathlib import Path

from dentro.errors import UserError
from dentro.report import build_report, fmt_seconds, write_stage

# Stages in pipeline order: (folder name, command module). The speedrun runs those built.
STAGES = [
    ("world", "dentro.commands.world"),
    ("data", "dentro.commands.data"),
    ("tokenizer", "dentro.commands.tokenizer"),
    ("pretrain", "dentro.commands.pretrain"),
    ("sample", "dentro.commands.sample"),
    ("sft", "dentro.commands.sft"),
    ("factuality", "dentro.commands.factuality"),
    ("rl", "dentro.commands.rl"),
    ("export", "dentro.commands.export"),
    ("eval", "dentro.commands.eval"),
]

PRESETS = {
    "tiny": "a 2-core laptop CPU: the whole speedrun in about 19.5 minutes",
    "small": "one GPU: a bigger world, vocabulary and model",
    "micro": "a smoke run of seconds, for tests: every stage at its smallest",
}


def built_stages() -> list[tuple[str, object]]:
    """The stages whose command module exists and can run inside a speedrun."""
    out = []
    for name, modname in STAGES:
        if importlib.util.find_spec(modname) is None:
            continue
        mod = importlib.import_module(modname)
        if hasattr(mod, "run_stage"):
            out.append((name, mod))
    return out


def speedrun(run: Path, preset: str, *, fresh: bool = False, only: list[str] | None = None,
             log=print) -> Path:
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    stages = built_stages()
    names = [n for n, _ in stages]
    if only:
        unknown = [n for n in only if n not in names]
        if unknown:
            raise UserError(f"--only {' '.join(unknown)}: no such stage; the stages are: {' '.join(names)}")
    if fresh and run.exists():
        for n in names:
            shutil.rmtree(run / n, ignore_errors=True)
    run.mkdir(parents=True, exist_ok=True)
    log(f"[speedrun] preset {preset} ({PRESETS[preset]}) -> {run}")
    t_all = time.time()
    for i, (name, mod) in enumerate(stages, 1):
        if only and name not in only:
            continue
        done = run / name / "summary.json"
        if done.exists() and not only:
            log(f"[speedrun] {i}/{len(stages)} {name}: done already, skipped (--fresh redoes it)")
            continue
        log(f"[speedrun] {i}/{len(stages)} {name}: {mod.TITLE}")
        t0 = time.time()
        try:
            figures, section = mod.run_stage(run, preset)
        except Exception as e:
            build_report(run, names, preset)
            if not isinstance(e, UserError):  # a UserError's message says it all; the CLI prints it
                log(traceback.format_exc())
            log(f"[speedrun] stage {name} failed; the report card has the stages before it. "
                f"Fix the cause and run the same command again: finished stages are kept.")
            raise
        write_stage(run / name, name, mod.TITLE, time.time() - t0, figures, section)
        log(f"[speedrun] {name} done in {fmt_seconds(time.time() - t0)}")
        build_report(run, names, preset)
    report = build_report(run, names, preset)
    log(f"[speedrun] all stages done in {fmt_seconds(time.time() - t_all)}; report card: {report}")
    return report
