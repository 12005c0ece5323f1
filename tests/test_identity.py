"""Identity on held-out phrasings (dentro/eval/identity.py): never a training phrasing, scored by the
intent's own answers in the question's language."""

import re

from dentro.eval import identity as I
from dentro.world.conversations import IDENTITY, IDENTITY_HELDOUT, IDENTITY_LEAD


def _key(q: str) -> str:
    return re.sub(r"[^\w]+", " ", q.lower()).strip()


def test_heldout_phrasings_are_never_trained_on():
    trained = set()
    for by_lang in IDENTITY.values():
        for lang, (prompts, _) in by_lang.items():
            for q in prompts:
                trained.add(_key(q))
                trained.update(_key(lead + q[0].lower() + q[1:]) for lead in IDENTITY_LEAD[lang])
    held = [q for by_lang in IDENTITY_HELDOUT.values() for qs in by_lang.values() for q in qs]
    assert len(held) == len(set(map(_key, held))) >= 30
    assert not [q for q in held if _key(q) in trained]
    assert set(IDENTITY_HELDOUT) == set(IDENTITY)   # every intent is asked


def test_right_wants_the_intents_answer_in_the_questions_language():
    who_pt = IDENTITY["who"]["pt"][1][0]
    assert I.right("  " + who_pt.upper(), "who", "pt")              # case and spaces do not matter
    assert I.right("Olá! " + IDENTITY["who"]["pt"][1][1], "who", "pt")   # a greeting before it is fine
    assert not I.right(IDENTITY["who"]["en"][1][0], "who", "pt")   # the other language
    assert not I.right(IDENTITY["maker"]["pt"][1][0], "who", "pt")   # another intent
    assert not I.right("Eu sou", "who", "pt") and not I.right("", "thanks", "en")


def test_items_ask_each_phrasing_alone_and_after_a_system_prompt():
    asked = I.items()
    n = sum(len(qs) for by_lang in IDENTITY_HELDOUT.values() for qs in by_lang.values())
    assert len(asked) == 2 * n
    alone = [it for it in asked if not it["system"]]
    with_system = [it for it in asked if it["system"]]
    assert all(it["messages"] == [{"role": "user", "content": it["question"]}] for it in alone)
    assert all([m["role"] for m in it["messages"]] == ["system", "user"] for it in with_system)
    assert len(I.items(system=False)) == n


def test_evaluate_counts_by_language_and_system(monkeypatch):
    from dentro.chat import assistant

    def fake_reply_batch(model, tok, conversations, max_tokens=48):
        out = []
        for msgs in conversations:   # right in Portuguese without a system prompt only
            q = msgs[-1]["content"]
            it = next(it for it in I.items(system=False) if it["question"] == q)
            text = IDENTITY[it["intent"]][it["lang"]][1][0] if it["lang"] == "pt" and len(msgs) == 1 else "?"
            out.append({"text": text, "closed": True})
        return out

    monkeypatch.setattr(assistant, "reply_batch", fake_reply_batch)
    r = I.evaluate(None, None)
    n_pt = sum(len(by_lang["pt"]) for by_lang in IDENTITY_HELDOUT.values())
    assert r["by_lang"]["pt"] == {"n": 2 * n_pt, "right": n_pt}
    assert r["by_lang"]["en"]["right"] == 0 and r["with_system"]["right"] == 0
    assert r["without_system"]["right"] == n_pt
