"""A KV cache for continuous batching: sequences of different lengths join and leave one shared
batch between decode steps.

It is the engine's left-padding trick (dentro/model/engine.py) kept alive across requests:

    index   0 1 2 3 4 5 6 7 8 9      pos = 10: the next decode step writes index 10 in every row
    row 0   . . . a a a a a a a      pad[0] = 3: row 0's tokens sit at 3..9, RoPE positions 0..6
    row 1   . . . . . . b b b b      pad[1] = 6: a request that joined later (shorter)
    row 2   c c c c c c c c c c      pad[2] = 0

Every active row writes its next token at the same index `pos`, so one forward of (n, 1) tokens
decodes all of them; the KVCache's `pad` gives each row its own RoPE positions and masks the keys
left of its start (gpt.attention_mask). The rest is bookkeeping between steps:

    join     the B requests that join in one step take the free rows n..n+B-1 and are prefilled in
             one forward straight into them: left-padded to the longest prompt (T tokens, as
             engine.generate_batch), ending at pos (row b's pad = pos - len_b). When T > pos every
             active row first shifts right by T - pos (their pads grow by as much).
    remove   a finished (or disconnected) row is overwritten by the last active row (swap-remove),
             so rows 0..n-1 stay the active ones and a step runs on views [:n], never on free rows.
    compact  when the write index reaches the window (max_len = the model's context), or after a
             removal, every row shifts left by the smallest pad: no active row is that long, since a
             row leaves before it outgrows the context, so the shift is at least 1 position.

Cost: a step attends to pos keys in every row, i.e. to the longest active sequence; compaction
keeps pos there. Memory: 2 x layers x slots x kv_heads x context x head_dim numbers.
"""

from __future__ import annotations

import torch

from dentro.model.gpt import ModelConfig


class SlotCache:
    """Duck-types KVCache (pos, pad, max_len, update) for the n active rows of `slots` rows.
    k, v: (layers, slots, kv_heads, context, head_dim)."""

    def __init__(self, config: ModelConfig, slots: int, device=None, dtype=torch.float32):
        shape = (config.num_hidden_layers, slots, config.num_key_value_heads, config.max_position_embeddings,
                 config.head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.slots = slots
        self.max_len = config.max_position_embeddings
        self.pos = 0  # the shared write index
        self.n = 0  # active rows: 0..n-1
        self._pad = torch.zeros(slots, dtype=torch.long, device=device)  # (slots,) start index of each row

    @property
    def pad(self) -> torch.Tensor:
        return self._pad[:self.n]  # (n,)

    def lengths(self) -> list[int]:
        """Tokens held by each active row."""
        return [self.pos - p for p in self.pad.tolist()]

    def update(self, layer: int, k, v):
        """Store k, v (n, kv_heads, T, D) at the next T indices of the active rows; return their keys/values so far."""
        t0, t1 = self.pos, self.pos + k.size(2)
        if t1 > self.max_len:
            raise ValueError(f"slot cache full: {t1} positions > max_len {self.max_len} (call make_room first)")
        self.k[layer, :self.n, :, t0:t1] = k
        self.v[layer, :self.n, :, t0:t1] = v
        return self.k[layer, :self.n, :, :t1], self.v[layer, :self.n, :, :t1]

    def join(self, lengths: list[int]) -> Prefill:
        """Take len(lengths) free rows for prompts of these lengths; -> the cache to prefill them into,
        in one forward of the prompts left-padded to the longest."""
        B, T = len(lengths), max(lengths)
        if self.n + B > self.slots:
            raise ValueError(f"{B} sequences do not fit in the {self.slots - self.n} free slots")
        if T >= self.max_len:
            raise ValueError(f"a prompt of {T} tokens leaves no room in a {self.max_len}-position window")
        if self.n == 0:
            self.pos = 0
        if T > self.pos:  # shift every active row right so the new ones fit before pos
            self._shift(self.pos - T)
        rows, cols = slice(self.n, self.n + B), slice(self.pos - T, self.pos)
        pad = torch.tensor([T - L for L in lengths], dtype=torch.long, device=self._pad.device)  # (B,)
        self._pad[rows] = pad + cols.start
        self.n += B
        return Prefill(self.k[:, rows, :, cols], self.v[:, rows, :, cols], pad if T > min(lengths) else None)

    def remove(self, row: int) -> int | None:
        """Free `row`; the last active row moves into it. -> the old index of the row that moved
        (now at `row`), or None when `row` was the last one."""
        last = self.n - 1
        moved = None
        if row != last:
            self.k[:, row, :, :self.pos] = self.k[:, last, :, :self.pos]
            self.v[:, row, :, :self.pos] = self.v[:, last, :, :self.pos]
            self._pad[row] = self._pad[last]
            moved = last
        self.n -= 1
        if self.n == 0:
            self.pos = 0
        return moved

    def compact(self) -> None:
        """Shift the active rows left by their smallest pad (the columns no active row uses)."""
        if self.n:
            shift = int(self.pad.min())
            if shift:
                self._shift(shift)

    def make_room(self) -> None:
        """Before a decode step: the write index must be inside the window."""
        if self.pos >= self.max_len:
            self.compact()
            if self.pos >= self.max_len:
                raise ValueError("a row fills the whole context window; it should have left the batch")

    def _shift(self, shift: int) -> None:
        """Move the columns of the active rows left by `shift` (right when negative)."""
        n, pos = self.n, self.pos
        new_pos = pos - shift
        if shift > 0:
            self.k[:, :n, :, :new_pos] = self.k[:, :n, :, shift:pos].clone()
            self.v[:, :n, :, :new_pos] = self.v[:, :n, :, shift:pos].clone()
        elif n:
            self.k[:, :n, :, -shift:new_pos] = self.k[:, :n, :, :pos].clone()
            self.v[:, :n, :, -shift:new_pos] = self.v[:, :n, :, :pos].clone()
        self._pad[:n] -= shift
        self.pos = new_pos


class Prefill:
    """Duck-types KVCache over views of the slot cache: the joining rows, and the T columns that end at
    the shared write index, so the prefill writes its keys and values where the rows will decode
    (no batch cache to allocate and copy). pad (B,): each row's left padding, as KVCache's; None
    when the prompts are equally long (the model's unmasked causal path)."""

    def __init__(self, k: torch.Tensor, v: torch.Tensor, pad: torch.Tensor | None):
        self.k, self.v, self.pad = k, v, pad  # k, v: (layers, B, kv_heads, T, head_dim)
        self.pos, self.max_len = 0, k.size(3)

    def update(self, layer: int, k, v):
        """Store k, v (B, kv_heads, T, D) at the next T positions; return all keys/values so far."""
        t0, t1 = self.pos, self.pos + k.size(2)
        self.k[layer, :, :, t0:t1] = k
        self.v[layer, :, :, t0:t1] = v
        return self.k[layer, :, :, :t1], self.v[layer, :, :, :t1]
