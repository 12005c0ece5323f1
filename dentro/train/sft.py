"""Supervised fine-tuning data: conversations -> rows of tokens with a loss mask.

The objective is pretraining's (predict the next token) with one change, as in InstructGPT
(Ouyang et al. 2022, arXiv:2203.02155): the loss counts only the tokens the assistant
writes. dentro.chat.template.render gives each conversation's ids and mask (1 = an
assistant token: its content and its <|im_end|>); here they become (x, y) batches where
y is -1 (ignored by the loss) wherever the next token is not the assistant's.

    rows      whole conversations packed in order into rows of seq_len+1 tokens; a
              conversation that does not fit in what is left of a row starts the next row,
              and the rest of the row is padding (<|endoftext|>, target -1). Every
              conversation starts with <|endoftext|>, the document boundary the base model
              already knows, so packed neighbours read as separate documents.
    too long  a conversation longer than a row is skipped and counted (never cut: a cut
              answer would teach the model to stop mid-sentence).
    resume    the loader's position is (epoch, cursor): a small dict in the checkpoint.
    replay    pretraining text mixed in (replay_rows): a share of the rows are windows of the
              base model's own training documents, every token trained, so that fine-tuning on
              a few thousand conversations does not overwrite what pretraining stored (the
              "pretraining mix" of InstructGPT's PPO-ptx, Ouyang et al. 2022, section 3.5;
              measured on the tiny run in docs/sft.md).
"""

from __future__ import annotations

import numpy as np

from dentro.errors import UserError


def tokenize_conversations(tokenizer, conversations: list[dict], seq_len: int) -> tuple[list, dict]:
    """conversations ({"messages": [...]} dicts) -> [(ids, mask)] that fit a row of seq_len+1
    tokens, and stats {"conversations", "kept", "too_long", "too_long_examples", "tokens",
    "trained_tokens", "no_trained_token"}."""
    from dentro.chat.template import render

    out, too_long, examples, no_target = [], 0, [], 0
    n_tokens = n_trained = 0
    for i, conv in enumerate(conversations):
        ids, mask = render(tokenizer, conv["messages"])
        if len(ids) > seq_len + 1:
            too_long += 1
            if len(examples) < 20:
                examples.append(conv.get("line", i))
            continue
        if not any(mask[1:]):
            no_target += 1
            continue
        out.append((np.asarray(ids, np.int64), np.asarray(mask, np.bool_)))
        n_tokens += len(ids)
        n_trained += int(sum(mask))
    stats = {"conversations": len(conversations), "kept": len(out), "too_long": too_long,
             "too_long_examples": examples, "no_trained_token": no_target, "tokens": n_tokens,
             "trained_tokens": n_trained}
    return out, stats


def replay_rows(tokens_dir, n_rows: int, seq_len: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """n_rows windows of seq_len+1 tokens from the train split of a pretraining token folder
    (dentro.train.data's shards), each starting at a document's <|endoftext|>, every token
    trained: rows for ConversationLoader, mixed among the conversations. A document shorter
    than the window runs on into the next one, as in pretraining's rows."""
    from dentro.train.data import DocumentIndex

    if n_rows <= 0:
        return []
    index = DocumentIndex(tokens_dir, "train")
    rng = np.random.default_rng([seed, 7])
    out = []
    for doc in rng.choice(len(index), size=n_rows, replace=n_rows > len(index)):
        shard = index.shards[index.shard_of[doc]]
        lo = int(index.start[doc])
        lo = max(0, min(lo, len(shard) - (seq_len + 1)))
        ids = np.asarray(shard[lo:lo + seq_len + 1], np.int64)
        if len(ids) < 2:
            continue
        out.append((ids, np.ones(len(ids), np.bool_)))
    return out


class ConversationLoader:
    """(x, y) batches of shape (B, T) from tokenized conversations; y = -1 where the loss
    ignores the target. Same interface as dentro.train.data.BatchLoader (next_batch,
    state_dict, load_state_dict), so the training loop is the one of pretraining.

    Global row g of a step: every rank packs the same global stream and reads only its own
    rows, as BatchLoader does."""

    def __init__(self, rows: list[tuple[np.ndarray, np.ndarray]], batch_size: int, seq_len: int, pad_id: int, *,
                 rank: int = 0, world_size: int = 1, shuffle: bool = True, seed: int = 0):
        if not rows:
            raise UserError("no conversation fits the context window; use shorter conversations or a longer "
                            "--seq-len (it cannot exceed the base model's context)")
        self.rows, self.B, self.T, self.pad_id = rows, batch_size, seq_len, pad_id
        self.rank, self.world_size, self.shuffle, self.seed = rank, world_size, shuffle, seed
        self.epoch, self.cursor = 0, 0
        self._order = self._permutation(0)

    def _permutation(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.rows))
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.rows))

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "cursor": self.cursor, "seed": self.seed, "num_rows": len(self.rows)}

    def load_state_dict(self, state: dict) -> None:
        if state["num_rows"] != len(self.rows):
            raise UserError(f"the checkpoint's data position is for {state['num_rows']} conversations, this "
                            f"run has {len(self.rows)}; the conversations changed since; start a new run "
                            f"instead of --resume")
        self.seed, self.epoch, self.cursor = state["seed"], state["epoch"], state["cursor"]
        self._order = self._permutation(self.epoch)

    def _peek(self) -> tuple[np.ndarray, np.ndarray]:
        if self.cursor == len(self._order):
            self.epoch, self.cursor = self.epoch + 1, 0
            self._order = self._permutation(self.epoch)
        return self.rows[int(self._order[self.cursor])]

    def next_row(self) -> tuple[np.ndarray, np.ndarray]:
        """The next global row: (ids (T+1,), trained (T+1,) bool)."""
        ids = np.full(self.T + 1, self.pad_id, np.int64)
        trained = np.zeros(self.T + 1, np.bool_)
        used = 0
        while True:
            conv_ids, conv_mask = self._peek()
            n = len(conv_ids)
            if used + n > self.T + 1:
                if used == 0:  # cannot happen: tokenize_conversations drops longer conversations
                    raise ValueError(f"a conversation of {n} tokens does not fit a row of {self.T + 1}")
                break
            ids[used:used + n], trained[used:used + n] = conv_ids, conv_mask
            used += n
            self.cursor += 1
        return ids, trained

    def next_batch(self, device="cpu"):
        """(x, y): LongTensors (B, T) of this rank's rows; y[t] = x[t+1], or -1 where that token
        is not the assistant's (prompt, role headers, padding)."""
        import torch

        rows = [self.next_row() for _ in range(self.B * self.world_size)]
        mine = rows[self.rank * self.B:(self.rank + 1) * self.B]
        ids = np.stack([r[0] for r in mine])  # (B, T+1)
        trained = np.stack([r[1] for r in mine])
        x = torch.from_numpy(ids[:, :-1].copy())
        y = torch.from_numpy(np.where(trained[:, 1:], ids[:, 1:], -1))
        if torch.device(device).type == "cuda":
            x, y = x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
        return x, y
