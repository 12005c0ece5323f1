"""Copied, not recalled: what the model copies from the conversation into a call or an answer, it
copies exactly. Constraints on decoding, applied by the tool loop (dentro.chat.toolloop);
`ToolContext.copy_quotes` and `copy_numbers` switch them off (`dentro chat --free-copy`).

A small model writes a name or a number it has just read as much from memory as from the text:
"Quem é a mãe de Abigail B. White?" -> a search for '" Abigail S. White"', a name it knows
better; "88014 plus 5669" -> `print( 88014 + 56695)`; the program prints 57823688 and the answer
says "5782368" (docs/factuality.md, "Copied, not recalled"). Engines for structured output
constrain what a model may write to a grammar or a schema; these constrain two kinds of span to
the conversation: what the model was given before the reply (the user's words, earlier replies)
and the results of the reply's own calls (its "source"). Among the tokens allowed the model's own
probabilities choose, so it finishes the copy it had begun; if no token at all were allowed, the
logits are left as they are.

    QuoteCopy   while the model writes a quoted phrase inside the `query` of a search call (the
                phrase every result must hold, docs/tools.md), a token is allowed only when the
                phrase it makes is still a piece of the source (ASCII case aside); closing the
                phrase is allowed where a word of the source ends ('" Michael Wal"' for Michael
                Walsh was the tiny model's), ending the query inside it is not. Nothing else in
                a call.
    NumberCopy  once the digits of a number the model writes in a call, or in its text after a
                tool's result (outside its own <think> block), match the first 2 or more digits of
                a number of the source, it may only write digits that keep copying one, and may end
                the number only where one of those ends. A copy of 1 digit so far ("2" of
                "2 mais 3") may be broken only by a token the model gives 90% or more (SURE): the
                tiny model's `print( 22 + 33)` goes, a constant a model means (60 after a 6)
                stays. "49.231" is one number, 49231: `print( 99_280 - 49)` is not a copy. In
                the answer, a number a python call printed is copied whole however short and
                however sure the model (`print( 2 + 3)` -> 5 and "A conta dá 55." at 0.97 was the
                tiny model's slip), decimals too. A number that matches none is the model's own
                and is not touched, nor is a reply that called no tool (a model that computes
                "48213 + 5" in its head writes its own number).
    CallOperands  once a python program holds every number of the question (as many times as it
                has them, two at least), another operator right after the last number (or the
                spaces before one) needs SURE: "Quanto é 2 mais 3?" -> `print( 2 + 3 + 3)` was
                the tiny model's way with small numbers. Switched with copy_numbers.
    NameCopy    after searches that all found nothing ("No results."), a run of capitalised words
                inside a sentence of the answer is a piece of a name the user's turns write, whole
                words: "Olivia Byrne" -> "...não falam de Olivia Perry." was the tiny model's
                refusal. Switched with copy_quotes.
    CallOperator  when the question names one kind of operation ("vezes", "×", "plus", "dividido
                por"...: OPERATION_WORDS), an operator of another kind right after a number of a
                python program is not allowed: "96249 vezes 176" -> `print( 96249 + 176)` was the
                tiny model's most common slip. Switched with copy_numbers.

All are exact and cheap per step: inside a phrase a token is allowed when it is a prefix of what
follows an occurrence of the phrase in the source (a dictionary lookup per length); the few tokens
that hold a quote, a backslash, a digit or "_" go through a byte-level scan.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache

import torch


@dataclass(frozen=True)
class _Scan:
    """Where a call's JSON text stands, byte by byte: enough to know when a search's query string,
    and a quoted phrase inside it, is being written."""
    in_string: bool = False
    escape: bool = False  # the previous byte of a string was a backslash
    buf: bytes = b""  # the string being read (not the query's)
    last: bytes | None = None  # the last string closed outside the query
    colon: bool = False  # a ':' followed that string
    name: bytes | None = None  # the value of "name"
    in_query: bool = False  # inside the value of "query"
    done: bool = False  # the query string has closed: nothing more to check
    phrase: bytes | None = None  # the open quoted phrase inside the query (None: none open)

    def step(self, data: bytes) -> _Scan:
        s = self
        for b in data:
            s = s._byte(b)
        return s

    def _byte(self, b: int) -> _Scan:
        if self.done:
            return self
        if self.in_query:
            if self.escape:
                if b == 0x22:  # \" opens or closes a phrase
                    return replace(self, escape=False, phrase=b"" if self.phrase is None else None)
                return replace(self, escape=False,
                               phrase=None if self.phrase is None else self.phrase + b"\\" + bytes([b]))
            if b == 0x5C:
                return replace(self, escape=True)
            if b == 0x22:  # the query string ends
                return replace(self, in_query=False, done=True, phrase=None)
            return self if self.phrase is None else replace(self, phrase=self.phrase + bytes([b]))
        if self.in_string:
            if self.escape:
                return replace(self, escape=False, buf=self.buf + bytes([b]))
            if b == 0x5C:
                return replace(self, escape=True)
            if b == 0x22:  # a string closes: a key, or the value after one
                name = self.buf if self.last == b"name" and self.colon else self.name
                return replace(self, in_string=False, last=self.buf, colon=False, buf=b"", name=name)
            return replace(self, buf=self.buf + bytes([b]))
        if b == 0x22:  # a string opens: the query's value when "query" and ':' came just before
            if self.last == b"query" and self.colon and self.name == b"search":
                return replace(self, in_query=True)
            return replace(self, in_string=True)
        if b == 0x3A:
            return replace(self, colon=True)
        if b in b" \t\r\n":
            return self
        return replace(self, colon=False) if b != 0x7B else replace(self, colon=False, last=None)

    @property
    def watching(self) -> bool:
        """The next bytes could write a phrase: inside the query, or right before its value."""
        return not self.done and self.name == b"search" and (self.in_query or (self.last == b"query" and self.colon))


class _Vocab:
    """A tokenizer's tokens for the check: those holding a quote or a backslash (which the scan
    reads byte by byte) apart, the others by their lower-cased bytes."""

    def __init__(self, tokenizer):
        self.bytes = [tokenizer.token_bytes(i) for i in range(tokenizer.vocab_size)]
        self.quoting = [i for i, b in enumerate(self.bytes) if b"\\" in b or b'"' in b]
        self.plain: dict[bytes, list[int]] = {}
        for i, b in enumerate(self.bytes):  # special tokens never write a phrase
            if b and b"\\" not in b and b'"' not in b and not tokenizer.is_special(i):
                self.plain.setdefault(b.lower(), []).append(i)
        self.longest = max(map(len, self.plain), default=1)
        # the tokens that hold a digit or "_": how a number goes on (the others end it)
        self.numeric = [i for i, b in enumerate(self.bytes)
                        if not tokenizer.is_special(i) and any(0x30 <= c <= 0x39 or c == 0x5F for c in b)]
        # the tokens that open another operation in a program: an arithmetic operator, after spaces
        # or not, and the spaces alone (a tokenizer may write " " and "+" apart); and for each
        # operator, the tokens that open one of another kind ("*" and "**" are one kind)
        lead = [None if tokenizer.is_special(i) or not b else b.lstrip(b" ")[:1] for i, b in enumerate(self.bytes)]
        self.operators = torch.tensor([c in (b"+", b"-", b"*", b"/", b"") for c in lead])
        self.wrong_operator = {sym: torch.tensor([c in (b"+", b"-", b"*", b"/") and c != sym.encode() for c in lead])
                               for sym in ("+", "-", "*", "/")}
        self.not_numeric = torch.ones(len(self.bytes), dtype=torch.bool)  # the tokens that end a number
        self.not_numeric[self.numeric] = False
        # of those, the ones that go on with a separator ("." or ","): after "49" of "49.231"
        self.separating = self.not_numeric & torch.tensor([b[:1] in (b".", b",") for b in self.bytes])
        self.separating_ids = self.separating.nonzero().flatten().tolist()


def _user_turns(source: bytes) -> list[str]:
    """The texts of the user's turns of a rendered conversation (ChatML), in order."""
    return [t[4:].decode("utf-8", "replace") for t in source.split(b"<|im_start|>") if t.startswith(b"user")]


def _forbid(logits: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor | None:
    """logits with the `blocked` tokens at -inf; None when none is."""
    if not bool(blocked.any()):
        return None
    out = logits.clone()
    out[0, blocked] = float("-inf")
    return out


def _sized(mask: torch.Tensor, logits: torch.Tensor, pad: bool) -> torch.Tensor:
    """A per-token mask of the tokenizer's vocabulary as long as the logits (a model may have more
    rows than its tokenizer has tokens: those get `pad`), on their device."""
    n = logits.size(-1)
    if len(mask) < n:
        mask = torch.cat([mask, torch.full((n - len(mask),), pad, dtype=torch.bool)])
    return mask[:n].to(logits.device)


@lru_cache(maxsize=4)
def _vocab(tokenizer) -> _Vocab:
    return _Vocab(tokenizer)


class QuoteCopy:
    """The quoted phrase of a search query is a piece of the source (the module's docstring)."""

    def __init__(self, tokenizer, source: bytes):
        self.vocab = _vocab(tokenizer)
        self.source = source.lower()
        self._call, self._scanned, self._state = None, 0, _Scan()  # the call read so far, and where it left the scan

    def add(self, text: str) -> None:
        self.source += b"\n" + text.encode("utf-8").lower()

    def _quoting_allowed(self, state: _Scan, data: bytes) -> bool:
        """data (a token with a quote or a backslash) keeps every phrase it writes a piece of the source."""
        s = state
        for b in data:
            before = s.phrase
            s = s._byte(b)
            if s.phrase is not None and s.phrase != before and s.phrase.lower() not in self.source:
                return False
            if before is not None and s.done:  # the query would end inside a phrase
                return False
            if before is not None and s.phrase is None and before.strip() and not self._ends_a_word(before):
                return False  # the phrase would close inside a word: '" Michael Wal"' for Michael Walsh
        if s.escape and s.phrase is not None and s.phrase.strip() and not self._ends_a_word(s.phrase):
            return False  # a backslash whose quote could not close the phrase there
        return True

    def _ends_a_word(self, phrase: bytes) -> bool:
        """Some occurrence of phrase in the source ends where a word ends (the next character is
        no letter or digit, ASCII or not; the phrase does not end inside a character); True for a
        phrase the source lacks (no copy to finish)."""
        phrase = phrase.lower()
        at = self.source.find(phrase)
        if at < 0:
            return True
        while at >= 0:
            end = at + len(phrase)
            nxt = self.source[end: end + 4]
            if not nxt or (not 0x80 <= nxt[0] < 0xC0 and not nxt.decode("utf-8", "ignore")[:1].isalnum()):
                return True
            at = self.source.find(phrase, at + 1)
        return False

    def _continuations(self, phrase: bytes) -> list[int]:
        """The tokens without quotes or backslashes that phrase + token keeps in the source: each
        token that is a prefix of what follows an occurrence of the phrase there."""
        if not phrase:
            return [i for b, ids in self.vocab.plain.items() if b in self.source for i in ids]
        out, at = [], self.source.find(phrase)
        while at >= 0:
            rest = self.source[at + len(phrase): at + len(phrase) + self.vocab.longest]
            for n in range(1, len(rest) + 1):
                out += self.vocab.plain.get(rest[:n], ())
            at = self.source.find(phrase, at + 1)
        return out

    def constrain(self, call: list[int], logits: torch.Tensor) -> torch.Tensor | None:
        if call is not self._call or len(call) < self._scanned:  # a new call
            self._call, self._scanned, self._state = call, 0, _Scan()
        for i in call[self._scanned:]:
            self._state = self._state.step(self.vocab.bytes[i])
        self._scanned = len(call)
        state = self._state
        if not state.watching:
            return None
        quoting = [i for i in self.vocab.quoting if self._quoting_allowed(state, self.vocab.bytes[i])]
        if state.phrase is None:  # between phrases: only a token that opens one can break it
            if len(quoting) == len(self.vocab.quoting):
                return None
            out = logits.clone()
            out[0, sorted(set(self.vocab.quoting) - set(quoting))] = float("-inf")
            return out
        phrase = state.phrase.lower() + (b"\\" if state.escape else b"")
        ok = quoting + self._continuations(phrase)
        if not ok:
            return None
        out = torch.full_like(logits, float("-inf"))
        keep = torch.tensor(sorted(set(ok)), device=logits.device)
        out[0, keep] = logits[0, keep]
        return out


# a number of the source: a number with thousands separators ("48.213") as its digits, and the
# others (Python's "48_213" too)
_SEPARATED = re.compile(rb"(?<!\d)\d{1,3}(?:[.,]\d{3})+(?!\d)")
_PLAIN = re.compile(rb"\d+(?:_\d+)*")
_DECIMAL = re.compile(rb"(?<![\d.])(\d+)\.(\d+)(?![\d.])")  # a float a program printed


class NumberCopy:
    """A number that starts as a copy ends as one (the module's docstring). The source's numbers
    count whatever their length, thousands separators ("48.213", "48,213") and Python's "48_213"
    read as their digits; "_" continues a number the model writes, as in Python, while a number of
    the source goes on after it. Once MIN digits of a copy match, breaking it is not allowed; before
    that (a copy of "2" or "15" begun), a token that breaks it is allowed only when the model gives
    it at least SURE probability: the tiny model writes "2 mais 3" as `print( 22 + 33)`, drawing the
    second 2 at 0.49, while a model that means the constant 60 after copying a 6 is sure of its 0.
    A number a program printed (add(..., printed=True)) is held to MIN from its first digit in the
    answer (constrain(..., answer=True)): the program computed it, and the answer only reports it.
    The pieces of "49.231" are not numbers of their own: `print( 99_280 - 49)` ends a copy, while
    "49" then "." (a decimal, or the separator copied) goes on. A float a program printed
    ("5214.43") is one number: "5214." does not end it."""

    MIN = 2
    SURE = 0.9  # None: breaking a copy of fewer than MIN digits is always allowed

    def __init__(self, tokenizer, source: bytes):
        self.vocab = _vocab(tokenizer)
        self.whole: set[bytes] = set()
        self.prefixes: set[bytes] = set()
        self.longer: set[bytes] = set()  # the prefixes a number of the source goes on after
        self.printed: set[bytes] = set()  # the prefixes of the numbers a program printed
        self.heads: set[bytes] = set()  # "49" of "49.231": may end where a separator follows
        self.points: set[bytes] = set()  # "5214" of a printed "5214.43": goes on with its "."
        self.run = b""  # the digits of the number being written (and a printed float's point)
        self.add(source.decode("utf-8", "replace"))

    def add(self, text: str, printed: bool = False) -> None:
        """The numbers of text join the source; printed: text is what a program printed."""
        data = text.encode("utf-8")
        found = set()
        if printed:  # a printed "5214.43" is one number, its point included: the answer copies it whole
            found = {m.group() for m in _DECIMAL.finditer(data)}
            self.points.update(m.group(1) for m in _DECIMAL.finditer(data))
            data = _DECIMAL.sub(b" ", data)
        self.heads.update(re.match(rb"\d+", m.group()).group() for m in _SEPARATED.finditer(data))
        for number in found | set(whole_numbers(data)):
            if number:
                self.whole.add(number)
                self.prefixes.update(number[:n] for n in range(1, len(number) + 1))
                self.longer.update(number[:n] for n in range(1, len(number)))
                if printed:
                    self.printed.update(number[:n] for n in range(1, len(number) + 1))

    def reset(self) -> None:
        """Forced tokens came between: no number continues across them."""
        self.run = b""

    def _hard(self, run: bytes, answer: bool) -> bool:
        """Breaking the copy `run` has begun is never allowed."""
        return len(run) >= self.MIN or (answer and run in self.printed)

    def _after(self, run: bytes, data: bytes, answer: bool = False) -> tuple[bytes, int]:
        """(the run after data, how hard data breaks a copy: 0 not at all, 1 a short copy, 2 a copy
        of MIN digits or more, or of a printed number in the answer), breaking by a wrong digit or
        an end too soon."""
        broke = 0
        for b in data:
            copying = bool(run) and run in self.prefixes
            if 0x30 <= b <= 0x39:
                if copying and run + bytes([b]) not in self.prefixes:
                    broke = max(broke, 1 + self._hard(run, answer))
                run += bytes([b])
            elif b == 0x2E and run in self.points:  # the decimal point of a printed number: it goes on
                run += b"."
            elif b == 0x5F and run:  # "_" inside a number: fine while a number of the source goes on
                if copying and run not in self.longer:
                    broke = max(broke, 1 + self._hard(run, answer))
            else:
                if copying and run not in self.whole and not (b in b".," and run in self.heads):
                    broke = max(broke, 1 + self._hard(run, answer))
                run = b""
        return run, broke

    def push(self, token: int) -> None:
        """A token the model wrote."""
        self.run = self._after(self.run, self.vocab.bytes[token])[0]

    def constrain(self, logits: torch.Tensor, answer: bool = False) -> torch.Tensor | None:
        """logits (1, V) -> the same with the tokens that would break a copy at -inf (None: none;
        nor when every token would: then the copy is not the model's to finish). answer: the
        text after a tool's result, where a printed number is copied whole."""
        goes_on = self.run in self.heads or self.run in self.points  # a separator or a point may follow
        scan = self.vocab.numeric + (self.vocab.separating_ids if goes_on else [])
        breaks = {i: how for i in scan if (how := self._after(self.run, self.vocab.bytes[i], answer)[1])}
        copying = bool(self.run) and self.run in self.prefixes
        ending = 0 if not copying or self.run in self.whole else 1 + self._hard(self.run, answer)  # by any other token
        if self.SURE is None:  # only the hard breaks
            breaks, ending = {i: how for i, how in breaks.items() if how == 2}, ending * (ending == 2)
        if not breaks and not ending:
            return None
        sure = logits[0].float().softmax(-1) >= (self.SURE or 1.0)
        out = logits.clone()
        if ending:  # the tokens that hold no digit nor "_" would end the number here
            others = _sized(self.vocab.not_numeric, logits, True)
            if goes_on:  # those are judged above, byte by byte
                others = others & ~_sized(self.vocab.separating, logits, False)
            out[0, others & ~sure if ending == 1 else others] = float("-inf")
        bad = [i for i, how in breaks.items() if how == 2 or not bool(sure[i])]
        if bad:
            out[0, bad] = float("-inf")
        if torch.equal(out, logits) or not torch.isfinite(out).any():
            return None
        return out


_CODE = re.compile(rb'"name"\s*:\s*"python".*"code"\s*:\s*"(.*)', re.S)  # a python call's program so far


def whole_numbers(data: bytes) -> list[bytes]:
    """The whole numbers of a text as their digits ("48.213", "48,213" and "48_213" are 48213)."""
    out = [re.sub(rb"[^0-9]", b"", m.group()) for m in _SEPARATED.finditer(data)]
    rest = _SEPARATED.sub(b" ", data)
    return out + [m.group().replace(b"_", b"") for m in _PLAIN.finditer(rest)]


# How a question names each operation, in the languages dentro speaks (the world's arithmetic
# conversations use these words: dentro.world.tool_conversations OPS and DIVIDE)
OPERATION_WORDS = {"+": ("+", "mais", "plus"), "-": ("-", "−", "menos", "minus"),
                   "*": ("×", "*", "vezes", "times", "multiplicado por", "multiplied by"),
                   "/": ("÷", "/", "dividido por", "divided by")}
_OPERATION = {sym: re.compile("|".join(rf"(?<!\w){re.escape(w)}(?!\w)" if w[0].isalpha() else
                                       rf"(?<=[\d\s]){re.escape(w)}(?=[\s\d])" for w in words), re.I)
              for sym, words in OPERATION_WORDS.items()}


def operations(text: str) -> set[str]:
    """The operations a question names, as Python writes them: "Quanto é 96249 vezes 176?" ->
    {"*"}; a symbol counts between numbers or spaces ("7-5", "7 - 5"; not "bem-vindo")."""
    return {sym for sym, pattern in _OPERATION.items() if pattern.search(text)}


class CallOperator:
    """A program's operation is the question's: when the question names one operation (one kind:
    "3 mais 4 mais 5" too), an arithmetic operator other than it, right after a number of a python
    call's program, is not allowed, however sure the model. The tiny model confuses them: "Qual é o
    resultado de 96249 vezes 176?" -> `print( 96249 + 176)`."""

    def __init__(self, tokenizer, source: bytes):
        self.vocab = _vocab(tokenizer)
        turns = _user_turns(source)
        named = operations(turns[-1]) if turns else set()
        self.expected = next(iter(named)) if len(named) == 1 else None

    def constrain(self, call: list[int], logits: torch.Tensor) -> torch.Tensor | None:
        if self.expected is None:
            return None
        m = _CODE.search(b"".join(self.vocab.bytes[i] for i in call))
        if m is None or not re.search(rb"\d *$", m.group(1)):  # right after a number
            return None
        return _forbid(logits, _sized(self.vocab.wrong_operator[self.expected], logits, False))


class CallOperands:
    """A program that has written every number of the question stops there, unless the model is
    sure: once a python call's program holds each of the conversation's numbers (as many times as
    the conversation has it; two at least), an arithmetic operator that would open one more
    operation is allowed only at SURE probability or more. The tiny model goes on past its
    problem: "Quanto é 2 mais 3?" -> `print( 2 + 3 + 3)`, "8 + 7 = ?" -> `print( 8 + 7 + 7)`
    (docs/tools.md, "Copied, not recalled")."""

    SURE = 0.9

    def __init__(self, tokenizer, source: bytes):
        self.vocab = _vocab(tokenizer)
        turns = source.split(b"<|im_start|>")  # the system message's numbers are not the question's
        self.asked = Counter(whole_numbers(b"\n".join(t for t in turns if not t.startswith(b"system"))))

    def constrain(self, call: list[int], logits: torch.Tensor) -> torch.Tensor | None:
        if sum(self.asked.values()) < 2:
            return None
        m = _CODE.search(b"".join(self.vocab.bytes[i] for i in call))
        if m is None or not m.group(1)[-1:].isdigit():  # right after a number
            return None
        written = Counter(whole_numbers(m.group(1)))
        if any(written[n] < k for n, k in self.asked.items()):
            return None
        sure = logits[0].float().softmax(-1) >= self.SURE
        return _forbid(logits, _sized(self.vocab.operators, logits, False) & ~sure)


# a name: capitalised words ("Olivia", "G.", "MacLeod", "D'Ávila") joined by single spaces
_CAP = r"[A-ZÀ-ÖØ-Þ][\w'’.-]*"
_NAMES = re.compile(rf"{_CAP}(?: {_CAP})*")
_PRONOUN = re.compile(r"I(?:['’](?:d|m|ve|ll))?")  # English "I" is no name
_STARTS = re.compile(r"\s*[A-ZÀ-ÖØ-Þ]")  # a piece that may open a name


@lru_cache(maxsize=4)
def _name_pieces(tokenizer) -> tuple[list[str], list[int], torch.Tensor, list[int], frozenset[int]]:
    """(each token's text, the tokens that may open a name, the same as a mask, the tokens that end
    one whatever it is (a comma, " de"; one verdict serves them all), the same as a set)."""
    texts = [b.decode("utf-8", "replace") for b in _vocab(tokenizer).bytes]
    opening = [i for i, t in enumerate(texts) if _STARTS.match(t)]
    ending = [i for i, t in enumerate(texts) if t and t != " " and "\ufffd" not in t
              and not re.match(r"[\w'’.-]| +[^\w\s]", t) and not re.search(r"[A-ZÀ-ÖØ-Þ]", t)]
    mask = torch.zeros(len(texts), dtype=torch.bool)
    mask[opening] = True
    return texts, opening, mask, ending, frozenset(ending)


class NameCopy:
    """After a search that found nothing, a name in the answer is a name of the question: inside a
    sentence (not its first word; English "I" aside), a run of capitalised words is allowed only
    while it is a piece of a name the user's turns write, starting where one of its words starts,
    and may end only where that name ends (its last words: "Castro Sampaio" of "Rafaela Castro
    Sampaio"; a period after it ends the sentence). Inside a name only whole characters; where the
    model gives the tokens that open a name MEANS of its probability or more, only one of the
    question's may open (torn from the name it meant, the model wrote "George knowist"). The tiny
    model's refusal names someone it knows better than the person asked about: "Qual é a profissão
    de Olivia Byrne?" -> "No results." -> "Não sei. Os resultados da busca não falam de Olivia
    Perry." (12 of fresh77's 60 refusals after an empty search). Only there: with a result to
    read, names forced to copies made wrong answers pass as read (docs/LOG.md, "Reading a search
    result")."""

    TAIL = 80  # characters of the answer a name is looked for in
    MEANS = 0.5  # the model means to open a name when it gives the pieces that open one this much

    def __init__(self, tokenizer, source: bytes):
        self.vocab = _vocab(tokenizer)
        self.texts, self.opening, self.opening_mask, self.ending, self._is_ending = _name_pieces(tokenizer)
        found = {m.group() for t in _user_turns(source) for m in _NAMES.finditer(t)}
        found |= {re.sub(r"['’]s?$", "", n) for n in found}  # "Callum Williams's" -> "Callum Williams"
        self.names = [" " + n + " " for n in found if n]  # padded: pieces start and end at words
        self.data = b""  # the answer's tail as bytes (a character may span tokens)
        self._opening_bad: dict[str, list[int]] = {}  # the pieces that may not open a name, by what precedes

    def reset(self) -> None:
        self.data = b""

    def push(self, token: int) -> None:
        self.data = (self.data + self.vocab.bytes[token])[-4 * self.TAIL:]

    @staticmethod
    def _read(data: bytes) -> str:
        """The text of data, where a character cut at the end by a token boundary reads as one
        that ends a name ("…"), as do bytes that are no character: inside a name, only whole
        characters ("ú" of "Araújo" is a token of its own); a model torn from the name it meant
        otherwise wanders off one stray byte at a time."""
        text = data.decode("utf-8", "replace")
        if not text.endswith("\ufffd"):
            return text
        k = len(data) - 1
        while k > 0 and 0x80 <= data[k] < 0xC0:
            k -= 1
        if data[k] < 0xC0:  # stray continuation bytes, not a cut character: "\ufffd" ends a name
            return text
        return data[:k].decode("utf-8", "replace") + "\u2026"

    def _words(self, run: str) -> bool:
        """run is whole words of a name of the question, in order."""
        return any(" " + run + " " in n for n in self.names)

    def _ends(self, run: str) -> bool:
        """run is a name of the question or its last words ("Castro Sampaio" of "Rafaela Castro
        Sampaio"): a name may end there."""
        return any(n.endswith(" " + run + " ") for n in self.names)

    def _ok(self, new: str, at: int) -> bool:
        """new (the answer's tail and a candidate piece from position at) keeps each name the piece
        touches a piece of a name of the question, ended only where that name ends."""
        at = min(at, len(new))  # (a cut character read differently may shorten the text)
        for m in _NAMES.finditer(new):
            if m.end() < at - 1 or (m.end() == at - 1 and new[at - 1] != " "):
                continue  # it ended before this piece, and was judged then
            before = new[:m.start()].rstrip()
            if not before or before[-1] in ".!?:\n" or (m.start() == len(before) and m.start() < at - 1):
                continue  # a sentence's first word, or glued to the text before the piece: not a name here
            run, rest = m.group(), new[m.end():]
            if _PRONOUN.fullmatch(run):
                continue
            if run.endswith(".") and self._ends(run[:-1]):  # "…sobre Ana Reis." ends the sentence
                continue
            if rest == "":  # the name may still grow
                ok = any(" " + run in n for n in self.names)
            elif rest == " ":  # another word of it may follow
                ok = self._words(run)
            else:  # it ends here
                ok = self._ends(run)
            if not ok:
                return False
        return True

    def constrain(self, logits: torch.Tensor) -> torch.Tensor | None:
        if not self.names:
            return None
        text = self._read(self.data)
        at, last = len(text) - text.endswith("\u2026"), None  # a cut character is the next piece's to finish
        for last in _NAMES.finditer(text):
            pass
        # inside a name, or a space after one: any piece may go on or end it; else only a piece that opens one
        touching = last is not None and (last.end() >= at or (last.end() == at - 1 and text.endswith(" ")))
        n = logits.size(-1)
        if touching:
            bad = [i for i in range(min(len(self.texts), n)) if i not in self._is_ending and self.vocab.bytes[i]
                   and not self._ok(self._read(self.data + self.vocab.bytes[i]), at)]
            if not self._ok(text[:at] + ";", at):  # the name cannot end here
                bad += [i for i in self.ending if i < n]
        else:  # a piece that opens a name is judged by the piece alone, and whether a space comes before it
            head = text.rstrip()
            if not head or head[-1] in ".!?:\n":  # a sentence's first word
                return None
            glue = " " if text.endswith(" ") else ""
            if glue not in self._opening_bad:
                base = "de" + glue  # a word inside a sentence
                self._opening_bad[glue] = [i for i in self.opening
                                           if not self._ok(self._read(base.encode() + self.vocab.bytes[i]), len(base))]
            bad = [i for i in self._opening_bad[glue] if i < n]
        if not bad:
            return None
        blocked = torch.zeros(n, dtype=torch.bool)
        blocked[bad] = True
        if not touching:  # the model means to write a name here: then one of the question's
            opening = _sized(self.opening_mask, logits, False).cpu()
            good = opening & ~blocked
            if float(logits[0].float().softmax(-1)[opening.to(logits.device)].sum()) >= self.MEANS and bool(good.any()):
                blocked = ~good
        if bool(blocked.all()):
            return None
        return _forbid(logits, blocked.to(logits.device))
