"""Nearest tokens: which tokens a trained model keeps close together in its two vocabulary matrices.

    embedding     embed_tokens.weight (V, d): the vector a token id is turned into on the way in
    unembedding   lm_head.weight (V, d): the vector a hidden state is compared with (dot product)
                  to score that token on the way out (the same matrix when the weights are tied)

Nothing tells the model that Lisboa and Porto are both cities; tokens that occur in the same
contexts get gradients in the same directions, so after pretraining cities tend to sit near
cities and years near years. Closeness is cosine similarity, (a · b) / (|a| |b|), so a row's
length (often tied to how frequent the token is) does not count.

A word that the tokenizer cuts into several tokens has no row of its own: its vector here is
the mean of its tokens' unit vectors (the embedding of a word as a bag of its pieces), and
those pieces are left out of the answer. Words are tried as written and with a leading space
(" Lisboa": the form words take inside a sentence); the form with fewer tokens wins.
"""

from __future__ import annotations

import torch

SPACES = ("embedding", "unembedding")


def resolve(tok, query: str) -> list[int]:
    """Token ids for query: '#123' is token id 123; otherwise the spelling as written or with a
    leading space, whichever is fewer tokens (ties: as written)."""
    if query.startswith("#") and query[1:].isdigit():
        i = int(query[1:])
        if not 0 <= i < tok.vocab_size:
            raise ValueError(f"token id {i} is outside the vocabulary (0..{tok.vocab_size - 1})")
        return [i]
    if not query:
        raise ValueError("an empty text has no tokens")
    forms = [tok.encode(query)] + ([tok.encode(" " + query)] if not query[0].isspace() else [])
    return min(forms, key=len)


def matrix(model, space: str) -> torch.Tensor:
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    w = model.embed_tokens.weight if space == "embedding" else model.lm_head.weight
    return w.detach().float()  # (V_model, d); V_model may exceed the tokenizer's (padding rows)


@torch.no_grad()
def neighbours(model, tok, query: str, *, k: int = 10, space: str = "embedding") -> dict:
    """JSON-able: the k tokens nearest to query by cosine in one matrix.

    {"query", "space", "pieces": [{"id", "text"}], "how": "one token" | "mean of N tokens",
     "tied": bool, "neighbours": [{"id", "text", "cosine"}]}  (best first; the query's own
    pieces, special tokens and rows the tokenizer has no token for are left out)"""
    from dentro.tokenizer.view import visible

    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    ids = resolve(tok, query)
    w = torch.nn.functional.normalize(matrix(model, space), dim=-1)  # (V, d) unit rows
    q = torch.nn.functional.normalize(w[ids].mean(0), dim=0)  # (d,)
    cos = w @ q  # (V,)
    cos[tok.n_ranks:] = float("-inf")  # special tokens and padding rows
    cos[ids] = float("-inf")  # not itself
    k = min(k, int(torch.isfinite(cos).sum()))
    top = torch.topk(cos, k)
    return {"query": query, "space": space,
            "pieces": [{"id": i, "text": visible(tok.token_bytes(i))} for i in ids],
            "how": "one token" if len(ids) == 1 else f"mean of {len(ids)} tokens",
            "tied": bool(model.config.tie_word_embeddings),
            "neighbours": [{"id": i, "text": visible(tok.token_bytes(i)), "cosine": round(c, 4)}
                           for i, c in zip(top.indices.tolist(), top.values.tolist())]}
