"""One module per `dentro` command: HELP, add_arguments(parser), main(args); stages also
define TITLE and run_stage(run, preset) for the speedrun (see dentro/speedrun.py).
Numeric options take the range-checked types below (positive_int, ...), never bare int/float
(tests/test_foundation.py checks every command)."""

import argparse
import math

from dentro.runs import default_run


def add_run_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", default=default_run(),
                   help="run name under $DENTRO_HOME/runs, or a folder path (default: $DENTRO_RUN or 'tiny')")


# argparse `type=` functions for numeric options: a value out of range stops at parsing with a
# message that says the allowed range (`argument --steps: 0 is out of range: give a whole number >= 1`),
# instead of a ZeroDivisionError deep in a stage.
def int_range(lo: int, hi: int | None = None):
    allowed = f"a whole number >= {lo:,}" if hi is None else f"a whole number from {lo:,} to {hi:,}"

    def parse(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{s!r} is not a whole number: give {allowed}") from None
        if v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"{s} is out of range: give {allowed}")
        return v
    return parse


def float_range(lo: float, hi: float | None = None, *, above: bool = False):
    """above: lo itself is not allowed (a learning rate must be > 0, not >= 0)."""
    low = f"> {lo:g}" if above else f">= {lo:g}"
    allowed = f"a number {low}" + ("" if hi is None else f" and <= {hi:g}")

    def parse(s: str) -> float:
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{s!r} is not a number: give {allowed}") from None
        if not math.isfinite(v) or v < lo or (above and v == lo) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"{s} is out of range: give {allowed}")
        return v
    return parse


positive_int = int_range(1)
non_negative_int = int_range(0)
positive_float = float_range(0, above=True)
non_negative_float = float_range(0)
