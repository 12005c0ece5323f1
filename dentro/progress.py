"""Progress bars for long work: tqdm, quieter when the output is not a terminal."""

from __future__ import annotations

import os
import sys

from tqdm.auto import tqdm


def bar(iterable=None, **kwargs):
    """tqdm with dentro's defaults. DENTRO_PROGRESS=0 turns bars off (tests, logs)."""
    if os.environ.get("DENTRO_PROGRESS", "1") == "0":
        kwargs["disable"] = True
    if not sys.stderr.isatty():
        kwargs.setdefault("mininterval", 10.0)  # a line every 10 s in a log instead of a redraw storm
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)
