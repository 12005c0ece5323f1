HELP = """Run every built stage in order into one run folder and write its report card (report.md).

Stages already finished in that run folder are skipped, so a killed speedrun resumes
where it stopped. Presets: tiny (2-core CPU, ~19 min), small (one GPU)."""


def add_arguments(p):
    from dentro.commands import positive_float
    from dentro.speedrun import PRESETS

    p.add_argument("--preset", default="tiny", choices=list(PRESETS), help="size of everything (default: tiny)")
    p.add_argument("--run", default=None, help="run name or folder (default: the preset's name)")
    p.add_argument("--fresh", action="store_true", help="delete the stages' outputs in the run folder and start over")
    p.add_argument("--only", nargs="+", metavar="STAGE", help="(re)run only these stages")
    p.add_argument("--pretrain-minutes", type=positive_float, metavar="M",
                   help="cap pretraining at M minutes (a quick smoke of a big preset, e.g. small on a GPU)")


def main(args):
    from dentro.runs import run_dir
    from dentro.speedrun import speedrun

    import os

    if args.pretrain_minutes:  # read by the pretrain stage (dentro/commands/pretrain.py run_stage)
        os.environ["DENTRO_PRETRAIN_MAX_MINUTES"] = str(args.pretrain_minutes)
    speedrun(run_dir(args.run or args.preset), args.preset, fresh=args.fresh, only=args.only)
