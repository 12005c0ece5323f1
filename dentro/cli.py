"""`dentro <command>`: parses arguments and hands them to a command module.

Each module in dentro/commands/ defines HELP, add_arguments(parser) and main(args).
Modules import heavy libraries (torch, ...) inside main, so `dentro --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from dentro import __version__
from dentro.errors import UserError

# name: (module, one line for `dentro --help`); in pipeline order.
COMMANDS = {
    "world": ("dentro.commands.world", "stage 0  generate the tiny world: a crawl with ground truth"),
    "data": ("dentro.commands.data", "stage 1  process the internet: WARC -> clean corpus (FineWeb-style)"),
    "tokenizer": ("dentro.commands.tokenizer", "stage 2  train, show, measure and export the BPE tokenizer"),
    "pretrain": ("dentro.commands.pretrain", "stage 3  pretrain a Transformer on next-token prediction"),
    "sample": ("dentro.commands.sample", "stage 4  sample from the base model, see its probabilities"),
    "sft": ("dentro.commands.sft", "stage 5  fine-tune the base model on conversations into an assistant"),
    "chat": ("dentro.commands.chat", "stage 5  talk to the chat model in the terminal"),
    "factuality": ("dentro.commands.factuality", "stage 6  knowledge probing: the chat model learns to say it does not know"),
    "rl": ("dentro.commands.rl", "stage 8  reinforcement learning with verifiable rewards (GRPO) on math"),
    "eval": ("dentro.commands.eval", "stage 9  benchmarks (HellaSwag, ARC, MMLU, GSM8K, the world) with error bars"),
    "arena": ("dentro.commands.arena", "stage 9  the arena: checkpoints in battles, Bradley-Terry ratings"),
    "export": ("dentro.commands.export", "stage 10 an LLM is two files: model.bin + run.c (C), or a Hugging Face folder"),
    "serve": ("dentro.commands.serve", "stage 11 serve the run's models with the OpenAI API (chat, completions)"),
    "inspect": ("dentro.commands.inspect", "look inside the base model: nearest tokens in its embeddings"),
    "speedrun": ("dentro.commands.speedrun", "run every built stage in order and write the report card"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dentro",
        description="dentro builds a small ChatGPT-like assistant from raw web pages, stage by stage, "
                    "and lets you look inside every stage.",
        epilog="Artifacts go to $DENTRO_HOME/runs/<run> (default ~/.cache/dentro). "
               "`dentro <command> --help` for each command.",
    )
    parser.add_argument("--version", action="version", version=f"dentro {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>", title="commands")
    for name, (modname, helptext) in COMMANDS.items():
        if importlib.util.find_spec(modname) is None:
            continue  # a stage not built yet
        mod = importlib.import_module(modname)
        p = sub.add_parser(name, help=helptext, description=getattr(mod, "HELP", helptext),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_main=mod.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a bad option (argparse printed why): its status
        return e.code
    if not getattr(args, "_main", None):
        parser.print_help()
        return 0
    try:
        return int(args._main(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except UserError as e:  # bad input: say what is wrong and what to do, no traceback
        print(f"dentro {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
