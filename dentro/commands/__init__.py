"""One module per `dentro` command: HELP, add_arguments(parser), main(args); stages also
define TITLE and run_stage(run, preset) for the speedrun (see dentro/speedrun.py)."""

import argparse

from dentro.runs import default_run


def add_run_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", default=default_run(),
                   help="run name under $DENTRO_HOME/runs, or a folder path (default: $DENTRO_RUN or 'tiny')")
