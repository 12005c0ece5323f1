"""`dentro chat`: talk to the fine-tuned model in the terminal (stage 5)."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

from dentro.commands import add_run_argument, float_range, non_negative_float, non_negative_int, positive_int
from dentro.errors import UserError

HELP = """Talk to the chat model in the terminal, or ask one question and get one answer.

examples:
  dentro chat                              # a conversation; /help lists the commands
  dentro chat "Quem é você?"               # one answer, then exit (scripts)
  echo "Who are you?" | dentro chat        # a question from a pipe
  dentro chat --system "Responda sempre em português." --temperature 0.7
  dentro chat --no-tools                   # a <tool_call> the model writes stays text
  dentro chat --no-think "347 + 285?"      # thinking off: the answer at once

The model may call tools (search over the run's corpus, python in a sandbox); each call and its
result show as they happen. The search index (<run>/tools/search.sqlite) is built from
<run>/data/corpus the first time the model searches.

The model may think before it answers (math: the steps in <think>...</think>, shown dimmed on a
terminal); --no-think or /think off switches thinking off, as Qwen3's enable_thinking=False: the
template writes an empty <think> block and the model answers at once.

The confidence gate (stage 6, <run>/factuality/gate.json): an answer from memory stands only when
the model was sure enough of its tokens (greedy); below the threshold the question goes to
the model trained with tools, whose final answer must reach the same threshold (shown once it
has), or, with --no-tools, the model says it does not know. --no-gate
switches it off. A question that brings its own text to read is answered as usual.

In a conversation: /reset  /system TEXT  /temperature X  /think on|off  /probs  /help  /quit
The model is the last post-training stage of the run (<run>/sft/checkpoint), or --checkpoint DIR."""

LABELS = {
    "you": {"pt": "você", "en": "you"},
    "model": {"pt": "dentro", "en": "dentro"},
    "hello": {"pt": "Converse com o modelo {path}. /help mostra os comandos, /quit sai.",
              "en": "Chatting with the model {path}. /help lists the commands, /quit exits."},
    "help": {"pt": "/reset recomeça a conversa · /system TEXTO define o prompt de sistema · /temperature X "
                   "(0 = sempre o token mais provável) · /think on|off liga ou desliga o pensamento "
                   "(<think>…</think> antes da resposta) · /probs mostra os candidatos a cada token da última "
                   "resposta · /quit sai",
             "en": "/reset starts over · /system TEXT sets the system prompt · /temperature X (0 = always the "
                   "most likely token) · /think on|off switches thinking (<think>…</think> before the answer) on "
                   "or off · /probs shows the candidates for each token of the last answer · /quit exits"},
    "reset": {"pt": "(conversa recomeçada)", "en": "(conversation reset)"},
    "system": {"pt": "(prompt de sistema: {text})", "en": "(system prompt: {text})"},
    "system_off": {"pt": "(sem prompt de sistema)", "en": "(no system prompt)"},
    "temperature": {"pt": "(temperatura {t})", "en": "(temperature {t})"},
    "think_on": {"pt": "(pensamento ligado: o modelo pode pensar antes de responder)",
                 "en": "(thinking on: the model may think before it answers)"},
    "think_off": {"pt": "(pensamento desligado: o modelo responde direto)",
                  "en": "(thinking off: the model answers at once)"},
    "bad_think": {"pt": "(use /think on ou /think off; agora está {state})",
                  "en": "(use /think on or /think off; it is {state} now)"},
    "bad_temperature": {"pt": "(a temperatura é um número >= 0, por exemplo /temperature 0.7)",
                        "en": "(the temperature is a number >= 0, for example /temperature 0.7)"},
    "no_answer": {"pt": "(ainda não há resposta; faça uma pergunta primeiro)",
                  "en": "(no answer yet; ask something first)"},
    "unknown": {"pt": "(comando desconhecido {cmd}; /help mostra os comandos)",
                "en": "(unknown command {cmd}; /help lists the commands)"},
    "dropped": {"pt": "(a conversa passou da janela de contexto do modelo: as {n} mensagens mais antigas "
                      "ficaram de fora)",
                "en": "(the conversation outgrew the model's context window: the oldest {n} messages were "
                      "left out)"},
    "cut": {"pt": "(resposta cortada no limite de {n} tokens)", "en": "(answer cut at the {n}-token limit)"},
    "tool_limit": {"pt": "(resposta encerrada: limite de {n} chamadas de ferramenta)",
                   "en": "(answer stopped: the limit of {n} tool calls was reached)"},
    "context_full": {"pt": "(resposta cortada: a janela de contexto do modelo encheu)",
                     "en": "(answer cut: the model's context window is full)"},
    "index_building": {"pt": "(construindo o índice de busca a partir de {corpus}; só na primeira vez…)",
                       "en": "(building the search index from {corpus}; first use only…)"},
    "index_built": {"pt": "(índice de busca pronto: {passages} trechos de {documents} documentos em {seconds:.1f} s)",
                    "en": "(search index ready: {passages} passages from {documents} documents in {seconds:.1f} s)"},
    "no_index": {"pt": "(sem índice de busca: {why})", "en": "(no search index: {why})"},
    "gate_on": {"pt": "Portão de confiança ligado: uma resposta de memória só sai com confiança >= {t:.3f}; "
                      "abaixo, {then}. --no-gate desliga.",
                "en": "Confidence gate on: an answer from memory stands only with confidence >= {t:.3f}; below, "
                      "{then}. --no-gate switches it off."},
    "gate_then_tools": {"pt": "a pergunta vai para o modelo com ferramentas", "en": "the question goes to the model "
                                                                                     "with tools"},
    "gate_then_refuse": {"pt": "o modelo diz que não sabe", "en": "the model says it does not know"},
    "gate_low_tools": {"pt": "(confiança {c:.3f} < {t:.3f}: a resposta de memória não é segura; o modelo com "
                             "ferramentas responde)",
                       "en": "(confidence {c:.3f} < {t:.3f}: the answer from memory is not safe; the model with "
                             "tools answers)"},
    "gate_reasons": {"pt": "(a resposta faria a conta de cabeça: o modelo com ferramentas responde)",
                     "en": "(the answer would work it out in its head: the model with tools answers)"},
    "gate_low": {"pt": "(confiança {c:.3f} < {t:.3f}: a resposta de memória não é segura)",
                 "en": "(confidence {c:.3f} < {t:.3f}: the answer from memory is not safe)"},
    "gate_low_after_tools": {"pt": "(confiança {c:.3f} < {t:.3f}: a resposta depois das ferramentas também não é "
                                   "segura)",
                             "en": "(confidence {c:.3f} < {t:.3f}: the answer after the tools is not safe either)"},
    "gate_ungrounded": {"pt": "(a resposta diz {what}, que os resultados das ferramentas não dizem: não é segura)",
                        "en": "(the answer says {what}, which the tools' results do not: it is not safe)"},
    "gate_left_out": {"pt": "(o programa deixou de fora {what} da pergunta: a resposta não é segura)",
                      "en": "(the program left out {what} of the question: the answer is not safe)"},
    "gate_elsewhere": {"pt": "(a busca procurou {what}, que a conversa não nomeia: a resposta não é sobre a pergunta)",
                       "en": "(the search looked up {what}, which the conversation does not name: the answer is not "
                             "about the question)"},
}


def say(key: str, lang: str, **kw) -> str:
    return LABELS[key][lang].format(**kw)


def default_lang() -> str:
    loc = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or ""
    return "pt" if loc.lower().startswith("pt") else "en"


def add_arguments(p):
    p.add_argument("message", nargs="?", help="ask this once, print the answer and exit")
    add_run_argument(p)
    p.add_argument("--checkpoint", metavar="DIR", help="chat model folder (default: <run>/sft/checkpoint)")
    p.add_argument("--system", help="system prompt (its own turn, before the conversation)")
    p.add_argument("--temperature", type=non_negative_float, default=0.0, help="0 = greedy (default); higher = more random")
    p.add_argument("--top-p", type=float_range(0, 1, above=True), default=None, help="nucleus sampling: the smallest set with probability >= P")
    p.add_argument("--max-tokens", type=positive_int, default=256, help="tokens per answer at most (default: 256)")
    p.add_argument("--seed", type=non_negative_int, default=None, help="random seed, for repeatable samples")
    p.add_argument("--lang", choices=["pt", "en"], default=None, help="language of the labels (default: from $LANG)")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when available)")
    p.add_argument("--no-tools", action="store_true", help="no tool calls: a <tool_call> the model writes is just text")
    p.add_argument("--no-think", action="store_true",
                   help="thinking off for every answer: the template writes an empty <think> block and the "
                        "model answers at once (Qwen3's enable_thinking=False); /think on|off switches it")
    p.add_argument("--no-gate", action="store_true",
                   help="no confidence gate: every answer from memory stands, however unsure the model was "
                        "(the gate is the stage-6 calibration in <run>/factuality/gate.json; docs/factuality.md)")
    p.add_argument("--free-copy", action="store_true",
                   help="let the model write names in its search queries (and in its answer after a search that "
                        "found nothing) and numbers in its programs and answers "
                        "as it recalls them, instead of copying the conversation's exactly, and its programs' "
                        "operators as it likes (docs/tools.md)")
    p.add_argument("--search-index", metavar="PATH", default=None,
                   help="search index for the search tool (default: <run>/tools/search.sqlite, built from "
                        "<run>/data/corpus on first use)")


def chat_checkpoint(run: Path) -> Path:
    """The most post-trained model of the run: rl, then factuality (if it kept what the SFT model
    knew: dentro.runs.post_trained_checkpoint), then sft."""
    from dentro.runs import post_trained_checkpoint

    found = post_trained_checkpoint(run)
    if found is not None:
        return found
    raise UserError(f"the run {run} has no chat model yet (no {run / 'sft' / 'checkpoint'}); fine-tune one with "
                    f"`dentro sft` (or the whole pipeline with `dentro speedrun`), or pass --checkpoint DIR. "
                    f"The base model only continues text: try it with `dentro sample`")


MAX_TOOL_CALLS = 3  # per answer: a model that keeps calling is stopped there
SHOWN_RESULT_CHARS = 200  # of a tool's result, on screen (the model reads all of it)


def tool_line(ev) -> str:
    """A ToolCall as one line: search(query='Lisboa')."""
    if ev.name is None:
        return f"(malformed call) {ev.raw.strip()[:SHOWN_RESULT_CHARS]}"
    return f"{ev.name}({', '.join(f'{k}={v!r}' for k, v in ev.arguments.items())})"[:SHOWN_RESULT_CHARS]


def result_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SHOWN_RESULT_CHARS else flat[:SHOWN_RESULT_CHARS] + "…"


DIM, RESET = "\033[2m", "\033[0m"


class ThinkShade:
    """Streamed answer text -> what to print, each <think>...</think> block (tags included)
    dimmed with ANSI codes when `on` (a terminal), like the tool lines; plain text otherwise.
    A tail that may begin the next tag (a model may spell it in plain characters) waits for
    the next push; end() gives what is left and closes a block the answer left open."""

    def __init__(self, on: bool):
        self.on, self.inside, self.held = on, False, ""

    def push(self, delta: str) -> str:
        if not self.on:
            return delta
        text, out = self.held + delta, ""
        while True:
            tag = "</think>" if self.inside else "<think>"
            i = text.find(tag)
            if i < 0:
                break
            j = i + len(tag)
            out += (text[:j] + RESET) if self.inside else (text[:i] + DIM + tag)
            text, self.inside = text[j:], not self.inside
        hold = next((k for k in range(min(len(tag) - 1, len(text)), 0, -1) if tag.startswith(text[-k:])), 0)
        self.held = text[len(text) - hold:]
        return out + text[:len(text) - hold]

    def pause(self) -> str:
        """Before a line of its own (a tool call): the held text, and the normal style back."""
        out, self.held = self.held, ""
        return out + (RESET if self.inside else "")

    def resume(self) -> str:
        return DIM if self.inside else ""

    def end(self) -> str:
        out = self.pause()
        self.inside = False
        return out


class Session:
    """One conversation: its messages, settings and the steps of the last answer (for /probs).
    tools: the ToolContext the model's calls run with, or None (--no-tools); corpus: what the
    search index is built from on first use (None: use the index as it is). think=False:
    thinking switched off (--no-think, /think off); the empty <think> block the template then
    writes is kept in the conversation, as the model read it, but not printed nor returned."""

    def __init__(self, model, tok, lang: str, system: str | None, temperature: float, top_p, max_tokens: int,
                 seed, out=None, tools=None, corpus: Path | None = None, think: bool = True,
                 gate: float | dict | None = None, tool_model=None):
        self.model, self.tok, self.lang, self.out = model, tok, lang, out or sys.stdout
        self.system, self.temperature, self.top_p = system, temperature, top_p
        self.max_tokens, self.seed, self.think = max_tokens, seed, think
        self.tools, self.corpus = tools, corpus
        # the confidence gate (dentro.chat.gate): its gate.json, or a bare threshold on the geometric mean
        gate = {"threshold": gate} if isinstance(gate, (int, float)) else gate
        self.gate = None if gate is None else float(gate["threshold"])
        self.gate_weights = None if gate is None else gate.get("weights")
        self.answer_gate = None if gate is None else float(gate.get("answer_threshold", gate["threshold"]))
        self.tool_model = tool_model  # (model, tok) or None
        self.messages: list[dict] = []
        self.last_steps: list = []
        self.refusals = random.Random(seed)

    def conversation(self) -> list[dict]:
        from dentro.chat.tool_mix import with_tools_prompt

        head = [{"role": "system", "content": self.system}] if self.system else []
        return with_tools_prompt(head + self.messages) if self.tools is not None else head + self.messages

    def ask(self, text: str, stream: bool = True) -> str:
        """Send one user message; print the answer as it comes; return it."""
        from dentro.chat.assistant import stop_ids, stream_reply
        from dentro.model.engine import Sampling

        self.messages.append({"role": "user", "content": text})
        sampling = Sampling(temperature=self.temperature, top_p=self.top_p)
        if self.gate is not None:
            answer = self.ask_gated(sampling, stream)
            if answer is not None:
                return answer
        if self.tools is not None:
            return self.ask_with_tools(sampling, stream)
        try:
            prompt, steps = stream_reply(self.model, self.tok, self.conversation(), max_tokens=self.max_tokens,
                                         sampling=sampling, seed=self.seed, show_top=5, think=self.think)
        except ValueError as e:  # even the last message alone does not fit
            self.messages.pop()
            raise UserError(str(e)) from None
        if prompt.dropped:
            print(say("dropped", self.lang, n=prompt.dropped), file=self.out)
        stops = stop_ids(self.tok)
        shade = ThinkShade(self.tty())
        ids, shown, self.last_steps, closed = [], "", [], False
        for step in steps:
            self.last_steps.append(step)
            t = step.tokens[0]
            if t is None or t in stops:
                closed = t is not None
                break
            ids.append(t)
            text_so_far = self.tok.decode(ids)
            if stream and not text_so_far.endswith("\ufffd"):  # wait for the rest of a cut character
                print(shade.push(text_so_far[len(shown):]), end="", flush=True, file=self.out)
                shown = text_so_far
        answer = self.tok.decode(ids)
        if stream:
            print(shade.push(answer[len(shown):]) + shade.end(), file=self.out)
        if not closed:
            print(say("cut", self.lang, n=prompt.max_tokens), file=self.out)
        self.messages.append({"role": "assistant", "content": self.lead() + answer})
        return answer

    def ask_gated(self, sampling, stream: bool) -> str | None:
        """The confidence gate (dentro.chat.gate): the model's greedy answer, without the tools'
        system line, stands when its confidence reached the threshold; below it the
        question goes to the tool model (tools on) or the model says it does not know. None: the
        gate does not judge this reply (a text to read, reasoning with tools off), ask as usual."""
        from dentro.chat.assistant import geometric_mean, stop_ids, stream_reply, track_logprobs
        from dentro.chat.gate import decide, familiarity, plain_turns, refusal_for, score
        from dentro.model.engine import Sampling

        head = [{"role": "system", "content": self.system}] if self.system else []
        # The chat model reads the conversation as questions and answers: the tool model's calls and
        # results (earlier turns) are not in its training and would only unsettle it.
        plain = plain_turns(self.messages)
        try:
            prompt, steps = stream_reply(self.model, self.tok, head + plain, max_tokens=self.max_tokens,
                                         sampling=Sampling(temperature=0.0), show_top=5, think=self.think)
            stops = stop_ids(self.tok)
            ids, taken, logs = [], [], [[]]
            for step in track_logprobs(steps, logs, stops):
                taken.append(step)
                t = step.tokens[0]
                if t is None or t in stops:
                    break
                ids.append(t)
        except ValueError:  # does not fit: the usual way says so
            return None
        answer = self.tok.decode(ids)
        tools_on = self.tools is not None and self.tool_model is not None
        confidence = geometric_mean(logs[0])
        if self.gate_weights:  # the name's familiarity too (dentro.chat.gate.score)
            familiar = familiarity(self.model, self.tok, [head + plain], [answer], max_tokens=self.max_tokens)[0]
            confidence = score(self.gate_weights, confidence, familiar)
        route = decide(head + plain, answer, confidence, self.gate, tools=tools_on)
        if route == "as_usual":
            return None
        if prompt.dropped:
            print(say("dropped", self.lang, n=prompt.dropped), file=self.out)
        if route == "stands":
            self.last_steps = taken
            if stream:
                shade = ThinkShade(self.tty())
                print(shade.push(answer) + shade.end(), file=self.out)
            self.messages.append({"role": "assistant", "content": self.lead() + answer})
            return answer
        if route == "tools":
            why = say("gate_low_tools", self.lang, c=confidence, t=self.gate) if confidence < self.gate else \
                say("gate_reasons", self.lang)
            print(self.dim(why), file=self.out)
            model, tok = self.tool_model
            return self.ask_with_tools(sampling, stream, model=model, tok=tok, judge=self.answer_gate)
        question = self.messages[-1]["content"]
        said = refusal_for(question, answer, self.refusals, self.lang)
        print(self.dim(say("gate_low", self.lang, c=confidence, t=self.gate)), file=self.out)
        if stream:
            print(said, file=self.out)
        self.last_steps = taken
        self.messages.append({"role": "assistant", "content": self.lead() + said})
        return said

    def lead(self) -> str:
        """What the template writes before the model's answer: the empty <think> block when thinking is off."""
        from dentro.chat.template import THINK_OFF

        return "" if self.think else THINK_OFF

    def tty(self) -> bool:
        return getattr(self.out, "isatty", lambda: False)()

    def dim(self, text: str) -> str:
        return f"{DIM}{text}{RESET}" if self.tty() else text

    def run_tool(self, name: str, arguments: dict, *, context) -> str:
        """call_tool, building the search index the first time the model searches."""
        from dentro.chat.tools import call_tool
        from dentro.chat.tools.search import build_index

        if name == "search" and self.corpus is not None:
            corpus, self.corpus = self.corpus, None  # once per session
            if not context.index_path.is_file():
                print(self.dim(say("index_building", self.lang, corpus=corpus)), file=self.out, flush=True)
            try:
                stats = build_index(corpus, context.index_path)  # a no-op when the index matches the corpus
                if stats["rebuilt"]:
                    print(self.dim(say("index_built", self.lang, **stats)), file=self.out, flush=True)
            except UserError as e:  # no corpus: search answers that there is no index
                print(self.dim(say("no_index", self.lang, why=e)), file=self.out)
                if not context.index_path.is_file():
                    context.index_path = None
        return call_tool(name, arguments, context=context)

    def ask_with_tools(self, sampling, stream: bool, model=None, tok=None, judge: float | None = None) -> str:
        """ask() through the tool loop: calls and results show as dim lines as they happen. model,
        tok: another model answers (the gate's tool model), not the session's. judge: the gate's
        threshold, which the final answer must reach too, or whose names and numbers the tools'
        results must hold (gate.after_tools): it is held back until the reply ends, then shown, or
        replaced by the model saying it does not know."""
        from dentro.chat.assistant import build_prompt
        from dentro.chat.gate import after_tools, left_out, refusal_for, searched_elsewhere, unsupported
        from dentro.chat.toolloop import Done, Token, ToolCall, ToolResult, tool_loop

        model, tok = model or self.model, tok or self.tok
        window = model.config.max_position_embeddings
        try:  # older turns make room for a call and its result: half the window
            prompt = build_prompt(tok, self.conversation(), window, self.max_tokens, min_reply=max(16, window // 2),
                                  think=self.think)
        except ValueError as e:  # even the last message alone does not fit
            self.messages.pop()
            raise UserError(str(e)) from None
        if prompt.dropped:
            print(say("dropped", self.lang, n=prompt.dropped), file=self.out)
        self.last_steps, at_line_start, done = [], True, None
        shade = ThinkShade(self.tty())
        held = ""  # with judge: the turn's text, shown once it is known not to be the final answer
        for ev in tool_loop(model, tok, prompt.ids, context=self.tools, max_tokens=self.max_tokens,
                            max_calls=MAX_TOOL_CALLS, sampling=sampling, seed=self.seed, show_top=5,
                            run_tool=self.run_tool, think=self.think):
            if isinstance(ev, Token):
                self.last_steps.append(ev.step)
                if judge is not None:
                    held += ev.text
                elif stream and ev.text:
                    print(shade.push(ev.text), end="", flush=True, file=self.out)
                    at_line_start = ev.text.endswith("\n")
            elif isinstance(ev, (ToolCall, ToolResult)) and stream:
                if held:  # the words before a call: not the final answer
                    print(shade.push(held), end="", flush=True, file=self.out)
                    at_line_start, held = held.endswith("\n"), ""
                line = "🔧 " + tool_line(ev) if isinstance(ev, ToolCall) else "→ " + result_line(ev.text)
                print(shade.pause() + ("" if at_line_start else "\n") + self.dim(line) + shade.resume(),
                      file=self.out, flush=True)
                at_line_start = True
            elif isinstance(ev, Done):
                done = ev
        last = done.messages[-1]
        missing = None if judge is None else unsupported([m.get("content") or "" for m in self.messages], done.messages)
        if judge is not None and last["role"] == "assistant" and not after_tools(done.confidence, judge, missing):
            said = refusal_for(self.messages[-1]["content"], last["content"], self.refusals, self.lang)
            skipped = left_out(self.messages[-1].get("content") or "", done.messages)
            elsewhere = searched_elsewhere([m.get("content") or "" for m in self.messages], done.messages)
            why = say("gate_left_out", self.lang, what=", ".join(skipped)) if skipped else \
                say("gate_elsewhere", self.lang, what=", ".join(f'"{w}"' for w in elsewhere)) if elsewhere else \
                say("gate_ungrounded", self.lang, what=", ".join(missing)) if missing else \
                say("gate_low_after_tools", self.lang, c=done.confidence, t=judge)
            if stream:
                print(shade.pause() + ("" if at_line_start else "\n") + self.dim(why) + shade.resume(),
                      file=self.out)
            held, at_line_start = said, False
            last = done.messages[-1] = {"role": "assistant", "content": self.lead() + said}
            done.reason = "stop"  # the refusal replaced the reply: where the model's reply was cut is moot
        if stream and held:
            print(shade.push(held), end="", flush=True, file=self.out)
            at_line_start = held.endswith("\n")
        if stream:
            print(shade.end(), end="" if at_line_start else "\n", file=self.out)
        if done.reason == "max_tokens":
            print(say("cut", self.lang, n=self.max_tokens), file=self.out)
        elif done.reason == "tool_limit":
            print(say("tool_limit", self.lang, n=MAX_TOOL_CALLS), file=self.out)
        elif done.reason == "context":
            print(say("context_full", self.lang), file=self.out)
        self.messages += done.messages
        return last["content"].removeprefix(self.lead()) if last["role"] == "assistant" else ""

    def probs(self) -> str:
        from dentro.commands.sample import render_step

        if not self.last_steps:
            return say("no_answer", self.lang)
        return "\n".join(render_step(self.tok, n, s, self.lang) for n, s in enumerate(self.last_steps, 1))

    def command(self, line: str) -> bool:
        """Handle a /command; False means quit."""
        cmd, _, arg = line.partition(" ")
        arg = arg.strip()
        if cmd in ("/quit", "/exit", "/sair"):
            return False
        if cmd == "/reset":
            self.messages, self.last_steps = [], []
            print(say("reset", self.lang), file=self.out)
        elif cmd == "/system":
            self.system = arg or None
            self.messages = []
            print(say("system", self.lang, text=arg) if arg else say("system_off", self.lang), file=self.out)
        elif cmd == "/temperature":
            try:
                t = float(arg)
                if t < 0:
                    raise ValueError
                self.temperature = t
                print(say("temperature", self.lang, t=t), file=self.out)
            except ValueError:
                print(say("bad_temperature", self.lang), file=self.out)
        elif cmd == "/think":
            if arg.lower() in ("on", "off"):
                self.think = arg.lower() == "on"
                print(say("think_on" if self.think else "think_off", self.lang), file=self.out)
            else:
                print(say("bad_think", self.lang, state="on" if self.think else "off"), file=self.out)
        elif cmd == "/probs":
            print(self.probs(), file=self.out)
        elif cmd in ("/help", "/ajuda"):
            print(say("help", self.lang), file=self.out)
        else:
            print(say("unknown", self.lang, cmd=cmd), file=self.out)
        return True


def load_gate(run: Path, folder: Path, device: str, lang: str, *, tools_on: bool):
    """(the gate, as gate.json holds it; (tool model, tokenizer) or None; a line saying what the gate
    does) when the run's confidence gate was calibrated for the chat model in `folder`; (None, None,
    None) otherwise."""
    from dentro.chat.gate import gate_for
    from dentro.model.checkpoint import load_checkpoint

    gate = gate_for(run, folder)
    if gate is None:
        return None, None, None
    tool_model = None
    path = gate.get("tool_model")
    if tools_on and path and (Path(path) / "config.json").is_file():
        model, tok, _ = load_checkpoint(path, device, load_train_state=False)
        tool_model = (model, tok)
    then = say("gate_then_tools" if tool_model else "gate_then_refuse", lang)
    return gate, tool_model, say("gate_on", lang, t=float(gate["threshold"]), then=then)


def main(args):
    import torch

    from dentro.model.checkpoint import load_checkpoint
    from dentro.runs import run_dir

    lang = args.lang or default_lang()
    message = args.message
    if message is None and not sys.stdin.isatty():
        message = sys.stdin.read().strip()  # a pipe: one question
    if message is not None and not message.strip():   # an empty argument or pipe, before the model loads
        raise UserError('nothing to ask: the question is empty; ask one (dentro chat "Quem é você?") '
                        "or run `dentro chat` alone to talk")
    run = run_dir(args.run)
    folder = Path(args.checkpoint) if args.checkpoint else chat_checkpoint(run)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, tok, _ = load_checkpoint(folder, device, load_train_state=False)
    if "<|im_start|>" not in tok.special_tokens:
        raise UserError(f"the tokenizer in {folder} has no chat tokens (<|im_start|>); it cannot chat")
    tools, corpus = None, None
    if not args.no_tools:
        from dentro.chat.tool_mix import chat_context

        # Search results share the window with the conversation (the size stage 6 trains with).
        tools = chat_context(Path(args.search_index) if args.search_index else run / "tools" / "search.sqlite",
                             model.config.max_position_embeddings)
        tools.copy_quotes = tools.copy_numbers = not args.free_copy
        corpus = None if args.search_index else run / "data" / "corpus"
    gate, tool_model, gate_note = None, None, None
    if not args.no_gate:
        gate, tool_model, gate_note = load_gate(run, folder, device, lang, tools_on=tools is not None)
    s = Session(model, tok, lang, args.system, args.temperature, args.top_p, args.max_tokens, args.seed,
                tools=tools, corpus=corpus, think=not args.no_think, gate=gate, tool_model=tool_model)

    if message is not None:
        s.ask(message)
        return 0

    print(say("hello", lang, path=folder))
    if gate_note:
        print(gate_note)
    while True:
        try:
            line = input(f"\n{say('you', lang)}> ").strip()
        except EOFError:
            print()
            return 0
        if not line:
            continue
        if line.startswith("/"):
            if not s.command(line):
                return 0
            continue
        print(f"{say('model', lang)}> ", end="", flush=True)
        try:
            s.ask(line)
        except UserError as e:
            print(f"({e})")
