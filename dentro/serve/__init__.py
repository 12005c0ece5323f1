"""`dentro serve`: an OpenAI-compatible HTTP server with continuous batching (docs/serve.md).

    protocol.py   request validation and response shapes (the OpenAI subset)
    slots.py      the KV cache that sequences join and leave between decode steps
    scheduler.py  the thread that owns a model and decodes every active request together
    app.py        routes, limits, API key, SSE streaming (Starlette + uvicorn)
"""
