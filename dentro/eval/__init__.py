"""Evaluation: what each stage did to the model, with intervals.

    knowledge.py  world facts by frequency and language: cloze (base) and questions (chat),
                  hallucinations on people who do not exist
    base_model.py in-context learning, compression (bits/byte vs gzip/bzip2/xz), memorisation
"""
