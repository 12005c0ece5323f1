"""Training: token shards and loaders, and the one training loop that every stage uses.

    data.py   corpus -> token shards -> packed batches (pretraining)
    loop.py   the training loop: optimisers, schedule, evaluation, checkpoints, resume
"""
