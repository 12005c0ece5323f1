"""Identity and small talk on phrasings no conversation used: did SFT teach the intents, or the
sentences?

SFT's identity conversations (dentro/world/conversations.py, IDENTITY) ask "Quem é você?", "Who
made you?", "Obrigado!" in a few phrasings each. A user asks in others ("Quem te criou?", "Are you
Claude?"). Each phrasing of IDENTITY_HELDOUT is asked alone and after a system prompt (a system
prompt is its own turn and must not change who the model says it is); a reply is right when it holds
the opening of one of its intent's training replies (the tiny model says them word for word when it
recognises the intent), which also puts it in the question's language.
"""

from __future__ import annotations

import re

OPENING_CHARS = 30   # the part of a training reply a right answer must hold
_WS = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip().lower()


def items(system: bool = True) -> list[dict]:
    """Every held-out phrasing, alone and (with `system`) after the language's first system prompt:
    [{"intent", "lang", "question", "system", "messages"}]."""
    from dentro.world.conversations import IDENTITY_HELDOUT, SYSTEM

    out = []
    for intent, by_lang in IDENTITY_HELDOUT.items():
        for lang, questions in by_lang.items():
            for q in questions:
                for with_system in ((False, True) if system else (False,)):
                    msgs = [{"role": "user", "content": q}]
                    if with_system:
                        msgs = [{"role": "system", "content": SYSTEM[lang][0]}] + msgs
                    out.append({"intent": intent, "lang": lang, "question": q, "system": with_system,
                                "messages": msgs})
    return out


def right(reply: str, intent: str, lang: str) -> bool:
    """The reply holds the opening of one of the intent's training replies in that language."""
    from dentro.world.conversations import IDENTITY

    text = _norm(reply)
    return any(_norm(r)[:OPENING_CHARS] in text for r in IDENTITY[intent][lang][1])


def evaluate(model, tok, max_tokens: int = 64) -> dict:
    """Greedy replies to items() -> {"items" (each with "reply" and "right"), "by_lang": {lang: {"n",
    "right"}}, "with_system": {"n", "right"}, "without_system": {"n", "right"}}."""
    from dentro.chat.assistant import reply_batch

    asked = items()
    for it, r in zip(asked, reply_batch(model, tok, [it["messages"] for it in asked], max_tokens=max_tokens)):
        it["reply"] = r["text"]
        it["right"] = right(r["text"], it["intent"], it["lang"])

    def count(group):
        return {"n": len(group), "right": sum(it["right"] for it in group)}

    return {"items": asked,
            "by_lang": {lang: count([it for it in asked if it["lang"] == lang]) for lang in ("pt", "en")},
            "with_system": count([it for it in asked if it["system"]]),
            "without_system": count([it for it in asked if not it["system"]])}
