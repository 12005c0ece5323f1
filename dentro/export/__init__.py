"""Stage 10: an LLM is two files. c.py writes model.bin for run.c (one C file that runs it);
hf.py writes a Hugging Face folder (transformers, vLLM). Formats in docs/export.md."""
