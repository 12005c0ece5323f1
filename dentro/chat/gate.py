"""The confidence gate: the chat model's own certainty decides whether an answer from memory stands.

A chat model fine-tuned on confident answers writes a fact it knows and a fact it makes up in
the same sentence, but not with the same certainty: the value it knows comes out at high
probability, the one it invents is one guess among several. The gate reads that certainty as the
geometric mean of the probabilities of the tokens of the model's greedy answer (exp of the mean
log-probability; Kadavath et al. 2022, "Language Models (Mostly) Know What They Know", and the
retrieval trigger of FLARE, Jiang et al. 2023, "Active Retrieval Augmented Generation", use
token probabilities the same way). On the tiny world's probe questions (facts outside the held-out
split) it separates the right answers from answers about invented people with an AUC of 0.91-0.96
on three runs' models, against 0.87-0.91 for the least likely token alone (docs/factuality.md). So:

    confidence   the geometric mean probability of the greedy reply's tokens (before <|im_end|>)
    threshold    chosen on the knowledge probe's questions (facts outside the held-out split):
                 the highest one that keeps KEEP of the answers the probe found right
    the gate     confidence >= threshold: the answer stands; below it, the model says it does not
                 know, or, when tools are on, the question goes to the tool-trained model, which
                 searches or computes

The name's familiarity (2026-12-01). The geometric mean misses a made-up answer that comes out
fluently. A second signal is read before the answer: how well the model predicts the name it is
asked about, token by token after the first (familiarity: the least log-probability among them).
A person the crawl repeats has a surname the model expects after the first name; an invented one
has not (entity popularity predicts what a model can answer, Mallen et al. 2023, "When Not to
Trust Language Models", arXiv:2212.10511). The gate's confidence is then a logistic regression
over both, fitted on the probe's greedy answers (right against wrong) and on answers about
invented people (fit_weights); on 13 runs' SFT models it refused 92% of the held-out absent
people against 79% with the geometric mean alone, and kept 91% of the right answers against 91%
(docs/factuality.md). A gate without weights (older runs) reads the geometric mean alone.

It judges answers from memory about something named only (decide): a question that brings its
own text (a passage to read), or that names nothing (small talk, "Quem é você?"), is answered as
it is, unless it follows up on what the conversation named before ("E onde ela nasceu?", whose
reply names the person); a reply that reasons first (<think> with steps) is answered as it is
with tools off, and goes to the tools with them on (they compute what the model would work out in
its head).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

KEEP = 0.9  # share of the probe's right answers the threshold keeps (the goal for kept answers)
# A longer user message brings its own text, and the answer is read from it, not from memory. The
# world's fact questions have at most 12 words (its question sets and SFT conversations), its
# reading conversations at least 20.
MAX_QUESTION_WORDS = 16
GATE_FILE = "gate.json"  # in the factuality stage's folder
_WORD = re.compile(r"\w+")


def brings_text(messages: list[dict]) -> bool:
    """The last user message is a text to read (more than MAX_QUESTION_WORDS words), not a question
    answered from memory (or there is no user message at all)."""
    users = [m for m in messages if m.get("role") == "user"]
    return not users or len(_WORD.findall(users[-1].get("content") or "")) > MAX_QUESTION_WORDS


# Two numbers with an operation between them: "2 + 2", "7 vezes 8", "9 times 8", "10/4".
_ARITHMETIC = re.compile(r"\d\s*(?:[-+×*/÷x]|mais|menos|vezes|dividido por|plus|minus|times|divided by)\s*\d",
                         re.IGNORECASE)


def names_something(text: str) -> bool:
    """The message asks about something named: a capitalised word inside a sentence (a person, a
    town, a firm: "Quem é a mãe de Maria Souza?"), a number of two digits or more ("Quanto é
    48213 + 99812?") or a calculation ("Quanto é 2 + 2?", which the tiny model gets wrong in its
    head: with tools on it goes to python). "Quem é você?", "Bom dia" and "who built you" name
    nothing: small talk and questions about the assistant itself are answered as usual, never
    refused nor sent to search."""
    return bool(re.search(r"\d\d", text) or _ARITHMETIC.search(text)) or bool(names(text))


def names(text: str) -> set[str]:
    """The capitalised words inside the sentences of a text, without their punctuation: its names.
    A single letter is none (English "I", a middle initial)."""
    words = text.split()
    found = (_WORD.search(w) for i, w in enumerate(words)
             if i and w[:1].isupper() and not words[i - 1].endswith((".", "!", "?", ":", "…")))
    return {m.group() for m in found if m and len(m.group()) > 1}


def follows_up(messages: list[dict], reply: str) -> bool:
    """A question that names nothing ("E onde ela nasceu?", "And in what year?") whose reply names
    what an earlier user message named ("A cidade natal de Maria Souza é …"): a follow-up answered
    from memory about it. "E você, quem é?" after a question about Maria Souza is answered about
    the assistant, whose reply names no one the user named: not a follow-up. Only the user's names
    count: after "Quem é a mãe de Maria Souza?" -> "… Rita Lima.", "E onde ela nasceu?" about Rita
    is not judged (the assistant's own words would bring in what it says about itself)."""
    users = [m.get("content") or "" for m in messages if m.get("role") == "user"]
    earlier = set().union(*(names(u) for u in users[:-1]))
    return any(w in earlier for w in _WORD.findall(reply))  # the names are capitalised words


def reasons(reply: str) -> bool:
    """The reply thinks first: a <think> block with something in it (thinking off writes an empty one)."""
    head = reply.lstrip()
    return head.startswith("<think>") and bool(head[len("<think>"):].split("</think>", 1)[0].strip())


def decide(messages: list[dict], reply: str, confidence: float, threshold: float, *, tools: bool) -> str:
    """What the gate does with the model's greedy reply to these messages:
    "as_usual"  a question that brings its own text, or names nothing (names_something) and is no
                follow-up about what was named before (follows_up), or (tools off) a reply that
                reasons: not judged;
    "tools"     (tools on) a reply that reasons, which the tools compute, or one below the threshold;
    "stands"    an answer from memory at or above the threshold;
    "refuse"    (tools off) an answer from memory below it."""
    if brings_text(messages):
        return "as_usual"
    last = next(m for m in reversed(messages) if m.get("role") == "user").get("content") or ""
    if not names_something(last) and not follows_up(messages, reply):
        return "as_usual"
    if reasons(reply):
        return "tools" if tools else "as_usual"
    if confidence >= threshold:
        return "stands"
    return "tools" if tools else "refuse"


def named_span(messages: list[dict]) -> tuple[int, str, int, int] | None:
    """Where the conversation names what the gate judges: (index of the message, its text, start,
    end) of the names (names) in the last user message that has any, from the first name's first
    character to the last one's end; None when no user message names anyone. A follow-up that names
    nobody ("E onde ela nasceu?") is judged on the names of the question before it."""
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if m.get("role") != "user":
            continue
        text = m.get("content") or ""
        found = names(text)
        words = [w for w in _WORD.finditer(text) if w.group() in found]
        if words:
            return i, text, words[0].start(), words[-1].end()
    return None


def familiarity(model, tokenizer, conversations: list[list[dict]], replies: list[str] | None = None, *,
                max_tokens: int = 48, batch_size: int = 16) -> list[float]:
    """How well the model predicts the names each conversation asks about (named_span), read in the
    prompt it answers (assistant.build_prompt): the least log-probability among the names' tokens
    after the first (the first token of any name is a surprise). 0.0 (nothing unfamiliar) when the
    conversation names nothing, the name is one token, or it is not in the prompt; and, given the
    replies, when the reply repeats none of the names: it is then not about them ("Você é a
    Siri?" -> "Não. Eu sou o dentro...") and is judged on its own certainty."""
    import torch

    from dentro.chat.assistant import build_prompt

    context = model.config.max_position_embeddings
    out = [0.0] * len(conversations)
    jobs = []  # (index, prompt ids, the positions of the names' tokens after the first)
    for i, conv in enumerate(conversations):
        span = named_span(conv)
        if span is None:
            continue
        try:
            ids = build_prompt(tokenizer, conv, context, max_tokens).ids
        except ValueError:
            continue
        _, text, a, b = span
        if replies is not None and not names(text) & set(_WORD.findall(replies[i] or "")):
            continue
        pieces = [tokenizer.token_bytes(t) for t in ids]
        at = b"".join(pieces).rfind(text.encode("utf-8"))
        if at < 0:
            continue
        lo, hi, start, inside = at + len(text[:a].encode("utf-8")), at + len(text[:b].encode("utf-8")), 0, []
        for t, piece in enumerate(pieces):  # the positions of the tokens that begin inside the names
            if lo <= start < hi and t > 0:
                inside.append(t)
            start += len(piece)
        if len(inside) > 1:  # a one-token name tells nothing
            jobs.append((i, ids, inside[1:]))
    was_training = model.training  # (a served model is in eval mode already: left untouched)
    if was_training:
        model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        for k in range(0, len(jobs), batch_size):
            chunk = jobs[k:k + batch_size]
            width = max(len(ids) for _, ids, _ in chunk)
            x = torch.zeros((len(chunk), width), dtype=torch.long, device=device)
            for r, (_, ids, _) in enumerate(chunk):  # padded on the right: causal, the pad is never read
                x[r, :len(ids)] = torch.tensor(ids, device=device)
            lp = model(x).log_softmax(-1)
            for r, (i, ids, at) in enumerate(chunk):
                out[i] = min(lp[r, t - 1, ids[t]].item() for t in at)
    if was_training:
        model.train()
    return out


def features(confidence: float, familiar: float) -> tuple[float, float]:
    """The gate's two signals as the regression reads them: the answer's mean log-probability
    (log of the geometric mean) and the name's familiarity."""
    return math.log(max(confidence, 1e-9)), familiar


def fit_weights(right: list[tuple[float, float]], others: list[tuple[float, float]], l2: float = 1e-3) -> dict:
    """A logistic regression of right answers against the others over (confidence, familiarity)
    pairs (features): {"bias", "answer", "name"}, score() computes it. Fitted on standardised
    features with a small L2 penalty, returned in the features' own units."""
    import torch

    x = torch.tensor([features(*p) for p in right + others], dtype=torch.float64)
    y = torch.tensor([1.0] * len(right) + [0.0] * len(others), dtype=torch.float64)
    mu, sd = x.mean(0), x.std(0).clamp_min(1e-6)
    z = (x - mu) / sd
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, y) + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    raw = (w / sd).detach()
    bias = (b - (w * mu / sd).sum()).item()
    return {"bias": round(bias, 6), "answer": round(raw[0].item(), 6), "name": round(raw[1].item(), 6)}


def score(weights: dict | None, confidence: float, familiar: float | None) -> float:
    """The gate's confidence: with weights (fit_weights), the regression's probability that the
    answer is right; without them, or with no familiarity measured, the geometric mean itself."""
    if not weights or familiar is None:
        return confidence
    g, f = features(confidence, familiar)
    z = weights["bias"] + weights["answer"] * g + weights["name"] * f
    return 1 / (1 + math.exp(-max(-60.0, min(60.0, z))))


_NUMBER = re.compile(r"\d{3,}")
_ANY_NUMBER = re.compile(r"\d+")


def left_out(question: str, reply: list[dict]) -> list[str]:
    """The numbers of the question that the reply's python programs do not hold (as many times as
    the question has them; the program that holds the most of each counts), read as
    dentro.chat.copying reads them ("48.213" and `48_213` are 48213). [] when the reply ran no
    program. "Quanto é 3 mais 4 mais 5?" -> `print( 3 + 5)` -> ["4"]: the program answered another
    problem, and its result, grounded as it is, is not the answer (the tiny model's python
    conversations have two operands). A question that carries a number no operation needs
    ("Responda em 1 frase") is refused with it too."""
    from collections import Counter

    from dentro.chat.copying import whole_numbers
    from dentro.chat.tools import tool_calls

    held: Counter = Counter()
    for _, name, arguments in tool_calls(reply):
        if name == "python" and isinstance(arguments.get("code"), str):
            held |= Counter(whole_numbers(arguments["code"].encode("utf-8")))
    if not held:
        return []
    asked = Counter(whole_numbers(question.encode("utf-8")))
    return [n.decode() for n, k in asked.items() if held[n] < k]


def searched_elsewhere(context: list[str], reply: list[dict]) -> list[str]:
    """The quoted phrases of the reply's search queries that the conversation (context: its texts)
    never names, as whole words, case aside. The search copies its phrase from the conversation
    (dentro.chat.copying.QuoteCopy), but a piece of a word is a piece too: "Quanto é 2 mais 3?" ->
    "Vou procurar a profissão de Leonor Bastos Figueiredo." -> search('"S" profissão') -> a
    passage about someone, and an answer about that someone that its result grounds. [] when
    every search looked up what the conversation named (or the reply made none)."""
    from dentro.chat.tools import tool_calls

    said = " ".join(context)
    out = []
    for _, name, arguments in tool_calls(reply):
        query = arguments.get("query") if name == "search" else None
        for phrase in re.findall(r'"([^"]*)"', query) if isinstance(query, str) else []:
            words = phrase.split()
            if not words or not re.search(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)", said, re.I):
                out.append(phrase.strip())
    return out


def unsupported(context: list[str], reply: list[dict]) -> list[str] | None:
    """What the final answer of a reply that used tools adds that no tool result says: its names
    (capitalised words inside its sentences, names()) and numbers of 3 digits or more that neither
    the conversation before the reply (context: its texts) nor the reply's own words before the
    answer hold, and that no result of its calls holds (case aside; a search result's passages,
    without its query line). After a python call every number counts, short ones too, each
    matched whole ("5" is not held by "15"): a program's "5" grounds "A conta dá 5." and leaves
    "A conta dá 55." ungrounded; and a number of the question (context's last text) that the
    programs left out is unsupported too (left_out), as is the phrase of a search that looked up
    what the conversation never named (searched_elsewhere). [] when the answer is grounded in the
    results; None when the reply called no tool, has no final answer of its own, or its answer
    adds no name or number (a profession, a refusal): nothing to check. Retrieval-augmented
    systems check an answer against the passages it rests on in the same spirit (attributed
    question answering, Bohnet et al. 2022, arXiv:2212.08037); here the check is literal, as the
    tiny model copies what it reads."""
    from dentro.chat.tools import response_passages, tool_calls

    results = [response_passages(m.get("content") or "") for m in reply if m.get("role") == "tool"]
    if not results or not reply or reply[-1].get("role") != "assistant" or reply[-1].get("tool_calls"):
        return None
    answer = reply[-1].get("content") or ""
    if "</think>" in answer:
        answer = answer.rsplit("</think>", 1)[1]
    program = any(name == "python" for _, name, _ in tool_calls(reply))
    numbers = (_ANY_NUMBER if program else _NUMBER).findall(answer)
    skipped = left_out(context[-1], reply) if program and context else []
    skipped += searched_elsewhere(context, reply)

    def holds(text: str, w: str) -> bool:
        if program and w.isdigit():
            return re.search(rf"(?<!\d){w}(?!\d)", text) is not None
        return w.lower() in text

    known = " ".join(context + [m.get("content") or "" for m in reply[:-1] if m.get("role") == "assistant"]).lower()
    added = [w for w in dict.fromkeys(sorted(names(answer)) + numbers) if not holds(known, w)]
    if not added:
        return skipped or None
    said = "\n".join(results).lower()
    return [w for w in added if not holds(said, w)] + skipped


def after_tools(confidence: float | None, threshold: float, missing: list[str] | None = None) -> bool:
    """Whether the tool model's final answer, after the gate sent the question to the tools, stands.
    An answer that adds names or numbers stands when the tools' results hold them and is refused
    when they do not (missing = unsupported(...): [] or the names it made up; an answer written
    from memory beside a result that says otherwise, "Chloe Morgan was born in Fairwick." -> "The
    hometown of Chloe Morgan is Wilbridge."). On five runs' tool models (held-out facts and
    problems), answers that were not grounded were wrong 349 times in 378; with the check, 588
    right answers stood and 189 wrong ones, against 578 and 338 on confidence alone
    (benchmarks/tools_grounding.py, docs/factuality.md). An answer with nothing to check
    (missing None) is judged on its geometric mean (toolloop.Done.confidence) against the gate's
    answer_threshold, the threshold the geometric mean alone gets from the probe (the name's
    familiarity is left out: a rare person's name is unfamiliar, and reading it in a search result
    is what the tools are for). None confidence (no final answer of its own, or no measure): stands."""
    if missing is not None:
        return not missing
    return confidence is None or confidence >= threshold


def calibrate(right: list[float], wrong: list[float], keep: float = KEEP) -> dict:
    """The threshold from the probe: the highest confidence t such that at least `keep` of the
    right answers have confidence >= t. Returns {"threshold", "keep", "right", "wrong",
    "right_kept", "wrong_stopped"} (the shares on the probe itself)."""
    if not right:
        raise ValueError("no right answer in the probe to calibrate the gate on")
    ranked = sorted(right, reverse=True)
    t = ranked[min(len(ranked) - 1, max(0, int(keep * len(ranked) + 0.999999) - 1))]
    share = lambda xs, f: round(sum(map(f, xs)) / len(xs), 4) if xs else None  # noqa: E731
    return {"threshold": t, "keep": keep, "right": len(right), "wrong": len(wrong),
            "right_kept": share(right, lambda c: c >= t), "wrong_stopped": share(wrong, lambda c: c < t)}


def write_gate(folder: Path, gate: dict) -> Path:
    from dentro.runs import atomic_write_json

    path = Path(folder) / GATE_FILE
    atomic_write_json(path, gate)
    return path


def read_gate(run: Path) -> dict | None:
    """The run's gate (<run>/factuality/gate.json), or None when there is none or it is unreadable."""
    path = Path(run) / "factuality" / GATE_FILE
    try:
        gate = json.loads(path.read_text(encoding="utf-8"))
        float(gate["threshold"]), gate["checkpoint"]
        return gate
    except (OSError, ValueError, KeyError, TypeError):
        return None


def gate_for(run: Path, folder: Path) -> dict | None:
    """The run's gate when it was calibrated for the chat model in `folder`, else None."""
    gate = read_gate(run)
    return gate if gate is not None and same_folder(gate["checkpoint"], folder) else None


def plain_turns(messages: list[dict]) -> list[dict]:
    """The conversation as the chat model was trained to read it: system, user and assistant
    messages, without the tool model's calls (nor the tools' results)."""
    return [m for m in messages if m["role"] in ("system", "user", "assistant") and not m.get("tool_calls")]


def refusal_for(question: str, answer: str, rng, fallback: str) -> str:
    """The gate's "I don't know", in the question's language (else the answer's, else `fallback`)."""
    from dentro.chat.probing import refusal
    from dentro.web.language import identify

    lang = next((g for g in (identify(question)[0], identify(answer)[0]) if g in ("pt", "en")), fallback)
    return refusal(lang, rng)


def same_folder(a, b) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def gated_verdict(item: dict, key: str, threshold: float) -> str:
    """The verdict of item[key] (a reply with its "confidence") once the gate has judged it with
    tools off: "refused" when it was an answer from memory below the threshold."""
    r = item[key]
    messages = item.get("messages") or [{"role": "user", "content": item["question"]}]
    if decide(messages, r["reply"], r.get("confidence", 0.0), threshold, tools=False) == "refuse":
        return "refused"
    return r["verdict"]
