"""Where artifacts live: one folder per run under DENTRO_HOME, one subfolder per stage.

    $DENTRO_HOME/runs/<run>/            (DENTRO_HOME defaults to ~/.cache/dentro)
        report.md                       the report card, rewritten after every stage
        <stage>/summary.json            written last by a stage: its key figures and time;
                                        its presence means "this stage is done"
        <stage>/section.md              the stage's part of the report card
        <stage>/...                     the stage's own outputs (see docs/run-folder.md)
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

DEFAULT_HOME = "~/.cache/dentro"


def home() -> Path:
    return Path(os.environ.get("DENTRO_HOME") or DEFAULT_HOME).expanduser()


def default_run() -> str:
    return os.environ.get("DENTRO_RUN") or "tiny"


def run_dir(name: str | os.PathLike) -> Path:
    """A run name maps to $DENTRO_HOME/runs/<name>; a path with a separator is used as it is."""
    s = str(name)
    if os.sep in s or s.startswith("."):
        return Path(s).expanduser()
    return home() / "runs" / s


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def read_json(path: Path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def atomic_write_jsonl(path: Path, rows) -> None:
    """One JSON object per line (UTF-8, not ASCII-escaped), written atomically."""
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_jsonl(path: Path) -> list[dict]:
    """One JSON value per non-blank line."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


# The factuality stage's model is the run's chat model only if it still answers what it knows:
# at least this share of the held-out facts the SFT model answered correctly (issue 10's goal).
# Below it the stage taught refusing in general, not knowing what one knows, and the SFT model
# stays the default (the factuality model is still there for --checkpoint).
FACTUALITY_KEEP_GOAL = 0.9


def post_trained_checkpoint(run: Path, stages=("rl", "factuality", "sft")) -> Path | None:
    """The most post-trained checkpoint of the run among `stages`, in that order, that earned its
    place: a factuality model must keep FACTUALITY_KEEP_GOAL of what the SFT model knew (its
    eval.json says), an RL model must have raised held-out pass@1 beyond the 95% intervals (its
    result.json says: the tiny model's RL, which cannot, does not replace the chat model). None if
    none exists."""
    for stage in stages:
        folder = run / stage / "checkpoint"
        if not (folder / "config.json").is_file():
            continue
        if stage == "factuality":
            try:
                kept = read_json(run / stage / "eval.json")["figures"].get("sft_correct_kept")
            except (OSError, ValueError, KeyError, TypeError):
                kept = None
            if kept is None or kept < FACTUALITY_KEEP_GOAL:
                continue
        if stage == "rl":
            try:
                f = read_json(run / stage / "result.json")["figures"]
                better = rose(f["pass1_before"], f["pass1_after"], f["heldout_problems"])
            except (OSError, ValueError, KeyError, TypeError):
                better = False
            if not better:
                continue
        return folder
    return None


def rose(before: float, after: float, n: int) -> bool:
    """A rate measured on n items rose beyond both 95% Wilson intervals."""
    from dentro.eval.stats import wilson

    return n > 0 and wilson(round(after * n), n)[0] > wilson(round(before * n), n)[1]


def stage_can_resume(out: Path, preset: str, started: str = "metrics.jsonl") -> bool:
    """A speedrun stage killed mid-training picks up where it stopped: out/checkpoint holds a
    training state of the same preset, the stage had started (out/<started> exists) and not
    finished (no out/result.json, and its weights not yet interpolated with the base: the SFT
    stage's last step)."""
    from dentro.model.checkpoint import read_config

    ckpt = out / "checkpoint"
    if not (ckpt / "train_state.pt").exists():
        return False
    extra = read_config(ckpt)[1]
    return (extra.get("preset") == preset and not extra.get("interpolated")
            and (out / started).exists() and not (out / "result.json").exists())
