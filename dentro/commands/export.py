"""`dentro export`: an LLM is two files (stage 10). --format c writes model.bin + run.c;
--format hf a Hugging Face folder for transformers and vLLM; --format gguf one file for
llama.cpp (docs/export.md)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from dentro.commands import add_run_argument, int_range
from dentro.errors import UserError

TITLE = "Stage 10 · an LLM is two files"

HELP = """Export a checkpoint (stage 10): a model is its weights plus a small program that runs them.

  --format c    model.bin (config, tokenizer, Unicode tables, weights: fp32, or int8 with --int8)
                and run.c, one C file (libc + libm) that tokenizes like dentro, runs the
                Transformer with a KV cache, samples, and chats with the ChatML template
  --format hf   a Hugging Face folder: AutoModelForCausalLM / AutoTokenizer load it offline,
                vLLM serves it
  --format gguf one GGUF file (architecture qwen3, tokenizer and chat template inside) for
                llama.cpp, llama-cpp-python and the apps built on them; --dtype f32, f16 or q8_0

examples:
  dentro export --format c
  cc -O2 -o run ~/.cache/dentro/runs/tiny/export/c/run.c -lm
  ./run ~/.cache/dentro/runs/tiny/export/c/model.bin -i "O céu é"
  dentro export --format hf --out /tmp/dentro-hf
  dentro export --format gguf --dtype f16
  llama-completion -m ~/.cache/dentro/runs/tiny/export/gguf/model-f16.gguf -no-cnv -p "O céu é"

The model is the run's chat model (rl, factuality or sft) if it has one, else the base model;
or --checkpoint DIR. The file layout is in docs/export.md."""


def add_arguments(p):
    p.add_argument("--format", choices=["c", "hf", "gguf"], default="c",
                   help="c: model.bin + run.c; hf: Hugging Face folder; gguf: one file for llama.cpp")
    add_run_argument(p)
    p.add_argument("--checkpoint", metavar="DIR", help="checkpoint folder (default: the run's chat model, else "
                                                       "<run>/pretrain/checkpoint)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: <run>/export/<format>)")
    p.add_argument("--int8", action="store_true", help="c: int8 matrices with one scale per group (about 4x smaller)")
    p.add_argument("--group-size", type=int_range(4, 4096), default=64,
                   help="c --int8: weights per scale (default 64; halved until it divides every row)")
    p.add_argument("--dtype", choices=["f32", "f16", "q8_0"], default="f32",
                   help="gguf: weight type (default f32, exact; f16 and q8_0 are 2x and ~4x smaller)")


def default_checkpoint(run: Path) -> Path:
    """The run's chat model (as `dentro chat` picks it), else its base model."""
    from dentro.runs import post_trained_checkpoint

    found = post_trained_checkpoint(run, ("rl", "factuality", "sft", "pretrain"))
    if found is not None:
        return found
    raise UserError(f"the run {run} has no checkpoint yet; train one with `dentro pretrain` "
                    f"(or the whole pipeline with `dentro speedrun`), or pass --checkpoint DIR")


def human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def main(args):
    from dentro.runs import run_dir

    run = run_dir(args.run)
    ckpt = Path(args.checkpoint) if args.checkpoint else default_checkpoint(run)
    out = Path(args.out) if args.out else run / "export" / args.format
    if args.format == "c":
        from dentro.export.c import build_command, export_c

        facts = export_c(ckpt, out, int8=args.int8, group_size=args.group_size)
        m = facts["model.bin"]
        q = f"int8, groups of {m['group_size']}" if args.int8 else "fp32"
        print(f"wrote {m['path']}  {human(m['bytes'])}  ({q})")
        print(f"wrote {facts['run.c']['path']}  {human(facts['run.c']['bytes'])}  ({facts['run.c']['lines']} lines of C)")
        print(f"\nbuild:  {build_command(out)}      (add -fopenmp to use every core)")
        print(f"run:    {shlex.quote(str(out / 'run'))} {shlex.quote(m['path'])} -i \"O céu é\"")
        print(f"chat:   {shlex.quote(str(out / 'run'))} {shlex.quote(m['path'])} -m chat")
    elif args.format == "gguf":
        from dentro.export.gguf import export_gguf

        facts = export_gguf(ckpt, out, dtype=args.dtype)
        path = shlex.quote(facts["path"])
        print(f"wrote {facts['path']}  {human(facts['bytes'])}  ({facts['dtype']}, {facts['tensors']} tensors, "
              f"pre-tokenizer {facts['pre_tokenizer']})")
        if not facts["pattern_matches_pre_tokenizer"]:
            print("warning: this tokenizer was trained with an older split pattern (numbers in pairs of digits); "
                  "llama.cpp splits numbers digit by digit, so texts with numbers will tokenize differently "
                  "there than in training. Retrain the tokenizer and the model to fix it.", file=sys.stderr)
        print(f"\nrun:     llama-completion -m {path} -no-cnv -p \"O céu é\" -n 40   (llama.cpp; it puts "
              f"<|endoftext|> first, as dentro sample)")
        print(f"chat:    llama-cli -m {path}        serve: llama-server -m {path}   (OpenAI API, port 8080)")
        print(f"python:  llama_cpp.Llama(model_path={facts['path']!r}).create_chat_completion(messages=[...])")
    else:
        from dentro.export.hf import export_hf

        files = export_hf(ckpt, out)
        for name, size in files.items():
            print(f"wrote {out / name}  {human(size)}")
        print(f"\nload:   AutoModelForCausalLM.from_pretrained({str(out)!r}); "
              f"AutoTokenizer.from_pretrained({str(out)!r})")
        print(f"serve:  vllm serve {shlex.quote(str(out))}   (on a GPU; OpenAI API on port 8000)")
    return 0


def export_report(run: Path, prompt: str = "O céu é", max_tokens: int = 24) -> tuple[dict, str]:
    """Export the run's model to C (fp32 and int8) and HF, build run.c, and set its greedy output
    for one prompt next to PyTorch's. -> (figures, markdown) for the report card."""
    import torch

    from dentro.export.c import build, build_command, compiler, export_c
    from dentro.export.hf import export_hf
    from dentro.model.checkpoint import load_checkpoint
    from dentro.model.engine import Sampling, generate_all
    from dentro.report import md_table

    run = Path(run)
    ckpt = default_checkpoint(run)
    out = run / "export"
    fp32 = export_c(ckpt, out / "c", int8=False)
    int8 = export_c(ckpt, out / "c-int8", int8=True)
    hf = export_hf(ckpt, out / "hf")
    model, tok, _ = load_checkpoint(ckpt, "cpu", load_train_state=False)
    with torch.no_grad():
        ref = generate_all(model, [tok.eot_id] + tok.encode(prompt), max_tokens=max_tokens, sampling=Sampling(0),
                           stop_ids={tok.eot_id})[0]
    figures = {"model_bin_bytes": fp32["model.bin"]["bytes"], "model_bin_int8_bytes": int8["model.bin"]["bytes"],
               "run_c_bytes": fp32["run.c"]["bytes"], "run_c_lines": fp32["run.c"]["lines"],
               "hf_bytes": sum(hf.values())}
    rows = [["PyTorch (dentro engine)", tok.decode([t for t in ref if t != tok.eot_id])]]
    if compiler():
        exe = build(out / "c")
        for name, facts in (("run.c fp32", fp32), ("run.c int8", int8)):
            r = subprocess.run([str(exe), facts["model.bin"]["path"], "-m", "tokens", "-t", "0", "-n",
                                str(max_tokens), "-i", prompt], capture_output=True, text=True, timeout=300)
            ids = [int(x) for x in r.stdout.split()]
            rows.append([name, tok.decode([t for t in ids if t != tok.eot_id])])
            figures[f"{name.replace(' ', '_').replace('.', '_')}_greedy_equal"] = ids == ref
    else:
        rows.append(["run.c", "(no C compiler here: not built)"])
    from dentro.export.gguf import export_gguf, llama_cpp_greedy

    gg = export_gguf(ckpt, out / "gguf", dtype="f32")
    figures["gguf_bytes"] = gg["bytes"]
    theirs = llama_cpp_greedy(gg["path"], [tok.eot_id] + tok.encode(prompt), max_tokens, {tok.eot_id})
    if theirs is None:
        rows.append(["llama.cpp (GGUF)", "(llama-cpp-python not installed: `make interop` checks the file)"])
    else:
        rows.append(["llama.cpp (GGUF, llama-cpp-python)", tok.decode([t for t in theirs if t != tok.eot_id])])
        figures["gguf_greedy_equal"] = theirs == ref

    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ↵ ") or "∅"

    md = "\n".join([
        f"The model is two files: `model.bin` ({fp32['model.bin']['bytes']:,} bytes fp32, "
        f"{int8['model.bin']['bytes']:,} bytes int8) and `run.c` ({fp32['run.c']['lines']} lines of C, "
        f"libc and libm only). Build and run:", "",
        f"    {build_command(out / 'c')}", f"    {out / 'c' / 'run'} {out / 'c' / 'model.bin'} -i \"{prompt}\"", "",
        f"Greedy continuation of \"{prompt}\" ({max_tokens} tokens at most):", "",
        md_table(["program", "continuation"], [[a, cell(b)] for a, b in rows]), "",
        f"The same model as a Hugging Face folder ({sum(hf.values()):,} bytes): `{out / 'hf'}`; as a GGUF file "
        f"for llama.cpp ({gg['bytes']:,} bytes, f32; pre-tokenizer qwen2): `{gg['path']}`."])
    return figures, md


def _cell(s: str) -> str:
    return " ".join(s.replace("|", "\\|").replace("\n", " ↵ ").split()) or "∅"


def run_stage(run: Path, preset: str) -> tuple[dict, str]:
    """The speedrun's last stage: the run's most trained model as two files, built and run;
    for a chat model, one question answered by run.c's chat mode beside dentro's chat."""
    import subprocess

    from dentro.export.c import compiler

    figures, md = export_report(run)
    ckpt = default_checkpoint(run)
    if ckpt.parent.name == "pretrain" or not compiler():
        return figures, md
    from dentro.chat.assistant import reply
    from dentro.model.checkpoint import load_checkpoint
    from dentro.report import md_table

    question = "Quem é você?"
    model, tok, _ = load_checkpoint(ckpt, "cpu", load_train_state=False)
    ours = reply(model, tok, [{"role": "user", "content": question}], max_tokens=48)
    out = run / "export" / "c"
    r = subprocess.run([str(out / "run"), str(out / "model.bin"), "-m", "chat", "-t", "0", "-n", "48", "-i", question],
                       capture_output=True, text=True, timeout=300)
    theirs = r.stdout.strip()
    figures["chat_equal"] = " ".join(theirs.split()) == " ".join(ours.split())
    md += "\n\n" + "\n".join([
        f"The chat model, asked \"{question}\" (greedy; `{out / 'run'} {out / 'model.bin'} -m chat`):", "",
        md_table(["program", "answer"], [["dentro chat", _cell(ours)], ["run.c -m chat", _cell(theirs)]])])
    return figures, md
