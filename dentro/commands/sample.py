"""`dentro sample`: continue a text with the base model and watch its next-token probabilities."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from dentro.commands import add_run_argument, float_range, non_negative_float, non_negative_int, positive_int
from dentro.errors import UserError

TITLE = "Stage 4 · the base model: an internet document simulator"

HELP = """Continue a text with the pretrained base model (stage 4).

A base model is not an assistant: it continues documents like the ones it was trained on.
Each new token is drawn from a probability distribution over the whole vocabulary
(distribuição de probabilidade); --show-probs prints the top candidates at every step
(the model's own probabilities, before --temperature/--top-k/--top-p reshape them).

examples:
  dentro sample "Ana Souza nasceu em"
  dentro sample "The city of" --temperature 0.7 --top-k 40 --num-samples 3 --seed 1
  dentro sample "Ana Souza nasceu em" --temperature 0 --show-probs 8 --lang pt

The prompt is preceded by <|endoftext|> (a document starts here, as in training);
generation stops at the next <|endoftext|> or after --max-tokens."""

LABELS = {  # --show-probs headings; --lang both shows "pt / en"
    "step": {"pt": "passo", "en": "step"},
    "dist": {"pt": "distribuição de probabilidade do próximo token", "en": "next-token probability distribution"},
    "chosen": {"pt": "escolhido", "en": "chosen"},
    "prob": {"pt": "probabilidade", "en": "probability"},
    "token": {"pt": "token", "en": "token"},
    "sample": {"pt": "amostra", "en": "sample"},
}


def label(key: str, lang: str) -> str:
    pt, en = LABELS[key]["pt"], LABELS[key]["en"]
    return {"pt": pt, "en": en}.get(lang, pt if pt == en else f"{pt} / {en}")


def add_arguments(p):
    p.add_argument("prompt", nargs="?", default="", help="text to continue (default: empty, a whole new document)")
    add_run_argument(p)
    p.add_argument("--checkpoint", metavar="DIR", help="checkpoint folder (default: <run>/pretrain/checkpoint)")
    p.add_argument("--max-tokens", type=positive_int, default=64, help="new tokens at most (default: 64)")
    p.add_argument("--temperature", type=non_negative_float, default=0.8,
                   help="0 = greedy; higher = more random (default: 0.8)")
    p.add_argument("--top-k", type=positive_int, default=None, help="sample only among the K most likely tokens")
    p.add_argument("--top-p", type=float_range(0, 1, above=True), default=None,
                   help="nucleus sampling: the smallest set with probability >= P")
    p.add_argument("--seed", type=non_negative_int, default=None, help="random seed, for repeatable samples")
    p.add_argument("--num-samples", type=positive_int, default=1, help="independent continuations (default: 1)")
    p.add_argument("--show-probs", type=non_negative_int, nargs="?", const=5, default=0, metavar="K",
                   help="print the K most likely next tokens and their probabilities at each step (default K: 5)")
    p.add_argument("--lang", choices=["pt", "en", "both"], default="both", help="language of the labels (default: both)")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when available)")


def main(args):
    import torch

    from dentro.model.checkpoint import load_checkpoint
    from dentro.model.engine import Sampling, generate
    from dentro.runs import run_dir

    if args.show_probs and args.num_samples > 1:
        raise UserError("--show-probs follows one sample; drop --num-samples or set it to 1")
    sampling = Sampling(args.temperature, args.top_k, args.top_p)  # ranges checked by the parser
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    folder = Path(args.checkpoint) if args.checkpoint else run_dir(args.run) / "pretrain" / "checkpoint"
    model, tok, _ = load_checkpoint(folder, device, load_train_state=False)
    ids = [tok.eot_id] + tok.encode(args.prompt)
    if len(ids) >= model.config.max_position_embeddings:
        raise UserError(f"the prompt has {len(ids)} tokens; this model reads at most "
                        f"{model.config.max_position_embeddings - 1}: shorten it")
    steps = generate(model, ids, max_tokens=args.max_tokens, sampling=sampling, num_samples=args.num_samples,
                     seed=args.seed, stop_ids={tok.eot_id}, show_top=args.show_probs)
    if args.show_probs:
        out = []
        for i, step in enumerate(steps, 1):
            print(render_step(tok, i, step, args.lang))
            out.append(step.tokens[0])
        print(f"\n{args.prompt}{bold(tok.decode([t for t in out if t != tok.eot_id]))}")
    elif args.num_samples == 1:
        stream(tok, args.prompt, (s.tokens[0] for s in steps))
    else:
        rows = [[] for _ in range(args.num_samples)]
        for step in steps:
            for b, t in enumerate(step.tokens):
                if t is not None and t != tok.eot_id:
                    rows[b].append(t)
        for b, r in enumerate(rows, 1):
            print(f"--- {label('sample', args.lang)} {b} ---\n{args.prompt}{bold(tok.decode(r))}")
    return 0


def bold(text: str) -> str:
    """The model's words in bold on a terminal, so they stand apart from the prompt."""
    return f"\033[1m{text}\033[0m" if sys.stdout.isatty() else text


def stream(tok, prompt: str, tokens) -> None:
    """Print the prompt, then the continuation as it comes (whole characters only)."""
    print(prompt, end="", flush=True)
    ids, shown = [], ""
    for t in tokens:
        if t == tok.eot_id:
            break
        ids.append(t)
        text = tok.decode(ids)
        if not text.endswith("\ufffd"):  # a multi-byte character cut in two: wait for the rest
            print(text[len(shown):], end="", flush=True)
            shown = text
    print(tok.decode(ids)[len(shown):])


def visible(tok, i: int) -> str:
    """Token i as text with its whitespace made visible (dentro.tokenizer.view.visible:
    space ·, newline ↵, tab →; bytes that are not whole UTF-8 characters as \\xNN)."""
    from dentro.tokenizer.view import visible as visible_bytes

    try:
        piece = tok.token_bytes(i)
    except IndexError:  # a padded embedding row the tokenizer has no token for
        return f"<id {i}>"
    return visible_bytes(piece)


def render_step(tok, n: int, step, lang: str = "both", width: int = 30) -> str:
    """A few lines for one step: each top candidate with its probability as a bar."""
    chosen = step.tokens[0]
    lines = [f"{label('step', lang)} {n} · {label('dist', lang)}"]
    for t, p in step.top[0]:
        bar = "█" * round(p * width)
        mark = f"  ← {label('chosen', lang)}" if t == chosen else ""
        lines.append(f"  {100 * p:6.2f}%  {bar:<{width}}  '{visible(tok, t)}'{mark}")
    if chosen is not None and chosen not in [t for t, _ in step.top[0]]:
        p = step.logits[0].softmax(-1)[chosen].item()
        lines.append(f"  {100 * p:6.2f}%  {'':<{width}}  '{visible(tok, chosen)}'  ← {label('chosen', lang)}")
    return "\n".join(lines)


# ---- the speedrun stage ----------------------------------------------------------------------

@dataclass
class StageConfig:
    people: int  # people from the world whose birth prompts are completed (x2: pt and en)
    max_tokens: int  # new tokens per completion
    show_probs: int  # candidates per step in the --show-probs view
    probs_steps: int  # steps shown in that view


PRESETS = {
    "micro": StageConfig(people=2, max_tokens=8, show_probs=3, probs_steps=3),
    "tiny": StageConfig(people=10, max_tokens=16, show_probs=5, probs_steps=6),
    "small": StageConfig(people=25, max_tokens=24, show_probs=5, probs_steps=8),
}
GENERIC_PROMPTS = [("pt", "A cidade de"), ("pt", "O Brasil é"), ("en", "The city of"), ("en", "Once upon a time")]


def contains_answer(completion: str, answers: list[str]) -> bool:
    c = " ".join(completion.split()).casefold()
    return any(" ".join(a.split()).casefold() in c for a in answers if a)


def run_stage(run: Path, preset: str) -> tuple[dict, str]:
    import torch

    from dentro.model.checkpoint import load_checkpoint
    from dentro.model.engine import Sampling, generate, generate_all, generate_batch_all
    from dentro.report import md_table
    from dentro.runs import atomic_write_jsonl

    cfg = PRESETS[preset]
    folder = run / "pretrain" / "checkpoint"
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, tok, _ = load_checkpoint(folder, device, load_train_state=False)
    out = run / "sample"
    out.mkdir(parents=True, exist_ok=True)
    greedy = Sampling(temperature=0)

    def complete(prompt: str, **kw) -> list[str]:
        ids = [tok.eot_id] + tok.encode(prompt)
        rows = generate_all(model, ids, max_tokens=cfg.max_tokens, stop_ids={tok.eot_id}, **kw)
        return [tok.decode([t for t in r if t != tok.eot_id]) for r in rows]

    from dentro.world.questions import birth_prompts

    prompts = birth_prompts(run / "world" / "truth", cfg.people)
    rows = []
    if prompts:  # greedy, all in one batch (left-padded; the same completions as one at a time)
        done = generate_batch_all(model, [[tok.eot_id] + tok.encode(p["prompt"]) for p in prompts],
                                  max_tokens=cfg.max_tokens, sampling=greedy, stop_ids={tok.eot_id})
        for p, ids in zip(prompts, done):
            p["completion"] = tok.decode([t for t in ids if t != tok.eot_id])
            p["correct"] = contains_answer(p["completion"], p["answers"])
            rows.append(p)
    generic = GENERIC_PROMPTS if not prompts else GENERIC_PROMPTS[:1] + GENERIC_PROMPTS[2:3]
    samples = [{"lang": lang, "prompt": text, "samples": complete(text, sampling=Sampling(0.8), num_samples=3, seed=0)}
               for lang, text in generic]
    atomic_write_jsonl(out / "completions.jsonl", rows + samples)

    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ↵ ").strip() or "∅"

    lines = [f"The base model ({model.num_params():,} parameters) continues text; it was never asked "
             f"to answer questions. Greedy completions (temperature 0, at most {cfg.max_tokens} tokens) "
             f"of prompts about people of the world, next to the truth:", ""]
    figures = {"prompts": len(rows)}
    if rows:
        hits = sum(r["correct"] for r in rows)
        # The same continuation for everyone is the form of the sentence, not a fact; it can
        # still hit a true year by chance, so the number of distinct answers is shown too.
        distinct = len({" ".join(r["completion"].split()[:3]) for r in rows})
        figures.update(completions_with_true_answer=hits, share_with_true_answer=round(hits / len(rows), 3),
                       distinct_completions=distinct)
        lines += [md_table(["prompt", "completion", "true answer", "pages stating it", "contains it"],
                           [[cell(r["prompt"]), cell(r["completion"]), cell(" / ".join(r["answers"])),
                             r["pages"], "yes" if r["correct"] else "no"] for r in rows]), "",
                  f"{hits} of {len(rows)} completions contain a true answer (birth city or year); the "
                  f"completions begin in {distinct} different ways (first three words). A model that gives "
                  f"everyone the same city or year has learned the form of the sentence, not the facts: "
                  f"fluent, confident and wrong, which is how hallucinations start.", ""]
    else:
        lines += ["No world ground truth was found (run/world/truth), so generic prompts only.", ""]
    lines += ["Sampled continuations (temperature 0.8, seed 0): the base model as an internet "
              "document simulator, different text for the same prompt:", ""]
    lines += [md_table(["prompt", "sample"], [[cell(s["prompt"]), cell(c)] for s in samples for c in s["samples"]]), ""]

    probe = rows[0]["prompt"] if rows else generic[0][1]
    ids = [tok.eot_id] + tok.encode(probe)
    table = []
    for n, step in enumerate(generate(model, ids, max_tokens=cfg.probs_steps, sampling=greedy,
                                      stop_ids={tok.eot_id}, show_top=cfg.show_probs), 1):
        cands = ", ".join(f"`{visible(tok, t)}` {100 * p:.1f}%" for t, p in step.top[0])
        table.append([n, f"`{visible(tok, step.tokens[0])}`", cands])
    lines += [f"Next-token probability distribution (distribuição de probabilidade) for "
              f"\"{probe}\", step by step (as `dentro sample \"{probe}\" --temperature 0 --show-probs`; "
              f"· is a space):", "",
              md_table(["step", "chosen (greedy)", f"top {cfg.show_probs} candidates"],
                       [[n, cell(chosen), cell(cands)] for n, chosen, cands in table])]
    figures["params"] = model.num_params()

    # the course's claims about base models, measured: in-context learning, compression, memorisation
    # (they read the pretraining token shards: a run without them, only a checkpoint, skips this)
    if not (run / "pretrain" / "tokens" / "meta.json").is_file():
        return figures, "\n".join(lines)
    from dentro.eval.base_model import base_model_properties

    props, section = base_model_properties(run, preset, out=out)
    figures.update({f"properties_{k}": v for k, v in props.items()})
    return figures, "\n".join(lines) + "\n\n" + section
