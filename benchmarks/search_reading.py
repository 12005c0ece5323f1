"""Where a rare held-out fact is lost when the model searches for it: the query, the result, the reply.

    .venv/bin/python benchmarks/search_reading.py RUN CHECKPOINT [--per-group 20] [--show]

RUN is a run folder after `dentro factuality` (world/truth, sft/conversations/heldout.json,
tools/search.sqlite); CHECKPOINT the model to ask (e.g. RUN/factuality/checkpoint). For each of
`--per-group` held-out rare facts per language (the knowledge evaluation's draw, seed 77), the
question goes through the tool loop as `dentro chat` runs it (greedy, chat_context's result size)
and the first search call is kept. Counted: questions that searched, queries whose quoted name is
the question's name verbatim, queries that end with the word the tool conversations use for the
relation asked (QUERY_WORD), results that hold the answer string, replies scored correct (the
knowledge evaluation's verdict), and correct replies among those whose result held the answer.
`--free-copy` lets the model write quoted names and numbers as it recalls them (without the
copy constraints of dentro.chat.copying). `--show` prints each question, the lead before the call, query, whether the result held the answer, and the reply.

`--user-turn` asks instead without tools: the result of the query the tool conversations would
write (search_query) goes into the user turn before the question, as SFT's reading conversations
put a passage ("Text:\n..." in English), for the facts whose result holds the answer. It measures
reading a real passage apart from calling the tool.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--per-group", type=int, default=20)
    ap.add_argument("--show", action="store_true")
    ap.add_argument("--user-turn", action="store_true", help="the passage in the user turn, no tool loop")
    ap.add_argument("--free-copy", action="store_true",
                    help="quoted names and numbers as the model writes them (ToolContext.copy_quotes and "
                         "copy_numbers off; dentro.chat.copying)")
    args = ap.parse_args()

    from dentro.chat.assistant import build_prompt
    from dentro.chat.tool_mix import chat_context
    from dentro.chat.toolloop import tool_loop_batch
    from dentro.chat.tools import response_passages
    from dentro.eval import knowledge as K
    from dentro.eval.tools import TOOLS_PROMPT, verdict
    from dentro.model.checkpoint import load_checkpoint
    from dentro.model.engine import Sampling

    index = args.run / "tools" / "search.sqlite"
    if not index.is_file():
        sys.exit(f"no search index at {index}: run `dentro factuality --run {args.run}` first")
    model, tok, _ = load_checkpoint(args.checkpoint, load_train_state=False)
    held = json.loads((args.run / "sft" / "conversations" / "heldout.json").read_text())
    items = K.load_items(args.run / "world" / "truth", set(held["facts"]), per_group=args.per_group, seed=77,
                         buckets=("rare",))
    ctx = chat_context(index, model.config.max_position_embeddings)
    ctx.copy_quotes = ctx.copy_numbers = not args.free_copy
    if args.user_turn:
        return user_turn(args.run, model, tok, items, ctx)
    from dentro.world.tool_conversations import QUERY_WORD
    n = {"questions": 0, "searched": 0, "name_verbatim": 0, "word_asked": 0, "result_has_answer": 0, "correct": 0,
         "correct_when_result_has_answer": 0}
    prompts = [build_prompt(tok, [{"role": "system", "content": TOOLS_PROMPT},
                                  {"role": "user", "content": it["question"]}],
                            model.config.max_position_embeddings, 96).ids for it in items]
    dones = tool_loop_batch(model, tok, prompts, context=ctx, max_tokens=96, max_calls=2,
                            sampling=Sampling(temperature=0.0))
    for it, done in zip(items, dones):
        searches = [c for c in done.calls if c.name == "search"]
        query = (searches[0].arguments or {}).get("query", "") if searches else None
        result = next((m["content"] for m in done.messages if m["role"] == "tool"), None)  # the first call's
        last = done.messages[-1] if done.messages else {}
        text = (last.get("content") or "") if last.get("role") == "assistant" else ""
        v = verdict(text, it.get("answers") or [])
        quoted = re.search(r'"([^"]+)"', query or "")
        has = bool(query is not None and result) and any(a in response_passages(result) for a in it["answers"])
        n["questions"] += 1
        n["searched"] += query is not None
        n["name_verbatim"] += bool(quoted) and quoted.group(1) in it["question"]
        word = QUERY_WORD.get(it.get("relation"), {}).get(it["lang"])
        n["word_asked"] += bool(query and word) and query.rstrip().endswith(" " + word)
        n["result_has_answer"] += has
        n["correct"] += v == "correct"
        n["correct_when_result_has_answer"] += has and v == "correct"
        if args.show:
            lead = done.messages[0].get("content", "") if done.messages and searches else ""
            print(f"{it['lang']} | {it['question']} | {lead} | {query} | {'has' if has else 'no'} | {text[:100]} | {v}")
    print(json.dumps(n))


def user_turn(run: Path, model, tok, items: list[dict], ctx) -> None:
    from dentro.chat.assistant import reply_batch
    from dentro.chat.tools import call_tool, response_passages
    from dentro.eval.tools import verdict
    from dentro.world.conversations import read_world
    from dentro.world.tool_conversations import search_query

    world = read_world(run / "world" / "truth")
    facts = {f.id: f for f in world.facts}
    asks, held = [], []
    for it in items:
        f = facts[it["fact"]]
        result = call_tool("search", {"query": search_query(world.name(f.subject), f.relation, it["lang"])},
                           context=ctx)
        result = response_passages(result)   # the passage as SFT's reading conversations give it
        if any(a in result for a in it["answers"]):
            passage = re.sub(r"^\[1\] ", "", result)
            text = f"Text:\n{passage}" if it["lang"] == "en" else passage
            asks.append([{"role": "user", "content": f"{text}\n\n{it['question']}"}])
            held.append(it)
    replies = reply_batch(model, tok, asks, max_tokens=64)
    right = sum(verdict(r["text"], it["answers"]) == "correct" for r, it in zip(replies, held))
    print(json.dumps({"questions": len(items), "result_has_answer": len(held), "correct_in_user_turn": right}))


if __name__ == "__main__":
    main()
