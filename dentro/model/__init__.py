"""The model: the Transformer, its checkpoints and inference.

    gpt.py         the decoder-only Transformer (Qwen3 architecture)
    checkpoint.py  one folder that is a Hugging Face model and an exact resume point
    engine.py      inference: KV cache, sampling, probabilities, conversations
"""
