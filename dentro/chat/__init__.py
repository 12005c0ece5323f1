"""Chat: conversations as the model sees them (stages 5-6: fine-tuning, tools, probing).

    template.py        the chat template (ChatML as Qwen3 writes it): one renderer gives the text,
                       the token ids and the training mask; the same template in Jinja for HF
    conversations.py   reading a user's OpenAI-format JSONL, bad lines skipped and counted
    assistant.py       a reply: render, fit the context window, stream; batched replies
    tools/             search (SQLite FTS5, BM25) and python (sandboxed), and call_tool, the dispatcher
"""
