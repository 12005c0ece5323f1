"""dentro: build a small ChatGPT-like assistant from raw web pages, stage by stage."""

__version__ = "0.1.0"
