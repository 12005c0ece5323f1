"""Tool conversations for stage 6, grounded in the run's own search index.

dentro/world/tool_conversations.py writes conversations in which the assistant calls `search`
(rare facts), `python` (arithmetic with big or many-digit numbers) or no tool (frequent facts, small sums); its
search results are passages in the world's wording. Here every search call is run against the
run's index, as `dentro chat` runs it (same ToolContext), and the real result replaces the
written one:

    kept       the real result holds the fact's answer string: the answer copies it
    dropped    it does not (the page was filtered out of the corpus, or ranked too low, or cut
               by the result's size limit): teaching an answer the result does not hold would
               teach the model to answer past its tool, so these are counted and left out
    nobody     searches for people who do not exist (names invented as dentro.chat.probing
               invents them), the name in double quotes as every search query has it: the real
               result is "No results." (the search tool requires a quoted phrase), and the answer
               says the search found nothing about that name ("Não sei: a busca não encontrou ...")
    failed     python conversations whose first call is a slip (shown, not trained): the slip is
               run in the sandbox and its real error becomes the first tool message, so the model
               learns to read the error `dentro chat` will show it, and to call again

Every tool conversation opens with TOOLS_PROMPT as (or appended to) its system message: the
model learns to call tools when it is told it has them, and the conversations without that
prompt (the probe's, SFT's) still teach it to answer or refuse on its own.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from dentro.chat.tools import NO_RESULTS, TOOLS_PROMPT, ToolContext, call_tool, response_passages, tool_calls

NOT_FOUND = {
    "pt": ["Não sei: a busca não encontrou nada sobre {name}.",
           "Não sei. Os resultados da busca não falam de {name}."],
    "en": ["I don't know: the search found nothing about {name}.",
           "I don't know. The search results say nothing about {name}."],
}


def with_tools_prompt(messages: list[dict]) -> list[dict]:
    """The conversation with TOOLS_PROMPT in its system message (added, or appended to one)."""
    if messages and messages[0]["role"] == "system":
        return [{"role": "system", "content": messages[0]["content"] + "\n" + TOOLS_PROMPT}] + messages[1:]
    return [{"role": "system", "content": TOOLS_PROMPT}] + messages


def _search_turn(messages: list[dict]) -> tuple[int, dict] | None:
    """(index of the tool message, the search call's arguments) of a search conversation."""
    return next(((i + 1, args) for i, name, args in tool_calls(messages) if name == "search"), None)


def ground(convs: list[dict], context: ToolContext, answers: dict[str, dict]) -> tuple[list[dict], dict]:
    """Search conversations with their tool message replaced by what the search tool returns
    for their query; kept only when that holds the asked fact's answer (answers: fact id ->
    {lang: answer}). Other kinds pass through. -> (conversations, {"search_kept", "search_dropped"})."""
    out, stats = [], {"search_kept": 0, "search_dropped": 0}
    for c in convs:
        turn = _search_turn(c["messages"]) if c.get("kind") == "search" else None
        if turn is None:
            out.append(c)
            continue
        i, args = turn
        result = call_tool("search", args, context=context)
        answer = answers.get(c["sources"][0], {}).get(c["lang"])
        if not answer or answer.casefold() not in " ".join(response_passages(result).split()).casefold():
            stats["search_dropped"] += 1
            continue
        msgs = [dict(m) for m in c["messages"]]
        msgs[i] = {**msgs[i], "content": result}
        out.append({**c, "messages": msgs})
        stats["search_kept"] += 1
    return out, stats


def run_failed_calls(convs: list[dict], context: ToolContext, workers: int = 4) -> tuple[list[dict], int]:
    """python_failed conversations (dentro.world.tool_conversations: a broken first call, then the
    right one) with the broken program run in the sandbox, as `dentro chat` runs a call, and its
    real answer as the first tool message ("Error: SyntaxError: '(' was never closed"). One whose
    broken program printed the right result after all is dropped. Other kinds pass through.
    -> (conversations, how many were dropped)."""
    from concurrent.futures import ThreadPoolExecutor

    codes = [next(args["code"] for _, name, args in tool_calls(c["messages"]) if name == "python")
             for c in convs if c.get("kind") == "python_failed"]
    with ThreadPoolExecutor(workers) as pool:  # each call is its own sandboxed process
        results = iter(list(pool.map(lambda code: call_tool("python", {"code": code}, context=context), codes)))
    out, dropped = [], 0
    for c in convs:
        if c.get("kind") != "python_failed":
            out.append(c)
            continue
        result = next(results)  # the failed conversations' results, in their order
        msgs = [dict(m) for m in c["messages"]]
        first = next(i for i, m in enumerate(msgs) if m["role"] == "tool")
        right = next(m["content"] for m in msgs[first + 1:] if m["role"] == "tool")
        if result.strip() == right:
            dropped += 1
            continue
        msgs[first]["content"] = result
        out.append({**c, "messages": msgs})
    return out, dropped


def nobody_searches(questions: list[dict], context: ToolContext, rng: random.Random) -> list[dict]:
    """Search conversations about people who do not exist: questions [{"question", "lang",
    "name", "relation"}] (dentro.chat.probing.nobody_conversations' kind), the query written as
    for a real person (search_query), the search run for real, the answer that it found nothing
    about the name. A result other than "No results." (a passage holding the invented name: the
    corpus changed) drops the conversation."""
    from dentro.world.tool_conversations import search_lead, search_query

    out = []
    for q in questions:
        query = search_query(q["name"], q.get("relation"), q["lang"])
        lead = search_lead(q.get("relation"), q["lang"], {"s": q["name"]})
        result = call_tool("search", {"query": query}, context=context)
        if result != NO_RESULTS:
            continue
        msgs = [{"role": "user", "content": q["question"]},
                {"role": "assistant", "content": lead, "tool_calls": [{
                    "id": "call_1", "type": "function",
                    "function": {"name": "search", "arguments": json.dumps({"query": query}, ensure_ascii=False)}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": result},
                {"role": "assistant", "content": rng.choice(NOT_FOUND[q["lang"]]).format(name=q["name"])}]
        out.append({"messages": msgs, "kind": "search_nobody", "lang": q["lang"], "sources": []})
    return out


def python_pairs(convs: list[dict]) -> set[tuple[int, int]]:
    """The (a, b) number pairs of the python conversations' programs ("print( a op b)", python_code): the
    held-out arithmetic of the evaluation avoids them."""
    pairs = set()
    for c in convs:
        for _, name, args in tool_calls(c["messages"]):
            nums = [int(x.replace("_", "")) for x in re.findall(r"\d[\d_]*", args.get("code", ""))] if name == "python" else []
            if len(nums) >= 2:
                pairs.add((nums[0], nums[1]))
    return pairs


def world_tool_conversations(run: Path, heldout: dict, context_len: int, *, world=None, seed: int = 0,
                             n_search: int = 600, n_python: int = 300, n_plain: int = 300, n_nobody: int = 150,
                             log=print) -> tuple[list[dict], dict]:
    """The tool conversations of stage 6 on a run's world, all with TOOLS_PROMPT: searches about
    rare training facts grounded in the run's index (built over its corpus at <run>/tools/
    search.sqlite, the one `dentro chat` uses; results sized for the model's window by
    chat_context), python arithmetic, plain answers, and searches about invented people.
    world: the run's World when the caller has read it. -> (conversations, stats); ([], stats)
    when the run has no corpus."""
    from dentro.chat.probing import nobody_conversations
    from dentro.chat.tools.search import build_index
    from dentro.world.conversations import read_world
    from dentro.world.tool_conversations import make_tool_conversations

    truth, corpus = run / "world" / "truth", run / "data" / "corpus"
    if not corpus.exists() or not (truth / "facts.jsonl").is_file():
        log(f"[tools] no corpus at {corpus} (or no world truth) to search: no tool conversations")
        return [], {"skipped": "no corpus"}
    world = world or read_world(truth)
    index = run / "tools" / "search.sqlite"
    build_index(corpus, index)
    context = chat_context(index, context_len)
    convs = make_tool_conversations(truth, heldout, seed, n_search=n_search, n_python=n_python, n_plain=n_plain,
                                    world=world)
    convs, stats = ground(convs, context, {f.id: f.answer for f in world.facts})
    convs, stats["python_failed_dropped"] = run_failed_calls(convs, context)
    rng = random.Random(f"tool-mix-{seed}")
    nobody = nobody_conversations(world, truth, n_nobody, random.Random(f"tools-nobody-{seed}"))
    convs += nobody_searches([{"question": c["messages"][0]["content"], "lang": c["lang"], "name": c["name"],
                               "relation": c["relation"]} for c in nobody], context, rng)
    out = [{**c, "messages": with_tools_prompt(c["messages"])} for c in convs]
    rng.shuffle(out)
    for c in out:
        stats[c["kind"]] = stats.get(c["kind"], 0) + 1
    return out, stats


def chat_context(index: Path | None, context_len: int) -> ToolContext:
    """The ToolContext `dentro chat` gives a model with this window, which the search results
    share with the conversation: 3 passages of at most 1,200 characters in all, with their
    sources, from 1,024 positions up; below, about a character per position (one passage of 298
    characters without its URL for the tiny model's 256: about 100 of its positions, and 10-15
    more for the query line). One passage rather than two halves: the window around the query's
    words holds the answer more often (rare held-out facts 56.8% vs 54.3%,
    benchmarks/search_recall.py) and there is no second passage, about someone else, to copy
    from."""
    if context_len >= 1024:
        return ToolContext(index_path=index)
    if context_len >= 512:
        return ToolContext(index_path=index, max_chars=context_len)
    return ToolContext(index_path=index, k=1, max_chars=max(120, context_len + context_len // 6), sources=False)
