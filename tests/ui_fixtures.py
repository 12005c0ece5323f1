"""A throwaway run for the web UI tests: a tokenizer trained here, two tiny random checkpoints
saved in a temp run folder and loaded back, a report.md with an image, and the app over them."""

import torch

from dentro.model.checkpoint import load_checkpoint, save_checkpoint
from dentro.model.gpt import GPT, ModelConfig
from dentro.serve.app import Limits, ServedModel, create_app
from dentro.serve.scheduler import Scheduler
from dentro.tokenizer.bpe import train_tokenizer

TEXTS = ["O céu é azul e a noite é longa.", "What is the capital of France? Paris.", "Não sei.",
         "user\nassistant\nsystem\n", "The weather in Lisboa is sunny.", "Lisboa é a capital de Portugal."]
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")
REPORT = """# Report card: test

| stage | seconds |
|---|---|
| pretrain | 1.5 |

![loss](pretrain/loss.png)

Some **bold** and `code` and <script>alert(1)</script>.

```
dentro speedrun
```
"""


def make_run(root, layers=2, heads=4):
    """-> (run folder, [(id, checkpoint folder)]): dentro-base and dentro-sft, random weights."""
    tok = train_tokenizer(TEXTS * 20, vocab_size=400)
    run = root / "run"
    out = []
    for seed, (stage, mid) in enumerate([("pretrain", "dentro-base"), ("sft", "dentro-sft")]):
        torch.manual_seed(seed)
        m = GPT(ModelConfig(vocab_size=tok.vocab_size, hidden_size=64, num_hidden_layers=layers,
                            num_attention_heads=heads, num_key_value_heads=2, head_dim=16, intermediate_size=96,
                            max_position_embeddings=256))
        with torch.no_grad():
            m.lm_head.weight.mul_(10)  # a peaked distribution, so answers differ by token
        save_checkpoint(run / stage / "checkpoint", m, tok)
        out.append((mid, run / stage / "checkpoint"))
    (run / "pretrain" / "loss.png").write_bytes(PNG)
    (run / "report.md").write_text(REPORT, encoding="utf-8")
    (root / "secret.txt").write_text("not for the web")
    return run, out


def make_app(run, checkpoints, api_key=None, limits=Limits(max_tokens=64), slow=()):
    """slow: the model ids whose scheduler is a SlowScheduler."""
    served = []
    for mid, folder in checkpoints:
        model, tok, _ = load_checkpoint(folder, "cpu", load_train_state=False)
        model.eval()
        sched = (SlowScheduler if mid in slow else Scheduler)(model, max_batch=4, max_queue=8)
        served.append(ServedModel(mid, model, tok, sched.start(), 0))
    return create_app(served, limits, api_key, run), served


class SlowScheduler(Scheduler):
    """Samples as usual, 40 tokens a second: a stream slow enough to watch and to stop."""

    def _sample(self, s, logits, token=None):
        import time

        time.sleep(0.025)
        return super()._sample(s, logits, token)
