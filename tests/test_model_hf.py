"""dentro's GPT against the reference: HF transformers' Qwen3ForCausalLM (skipped without it)."""

import pytest
import torch

from dentro.model.checkpoint import save_checkpoint
from dentro.model.gpt import GPT, ModelConfig, hf_config, hf_name


pytestmark = pytest.mark.usefixtures("one_thread")


transformers = pytest.importorskip("transformers")


def random_model(tie: bool) -> GPT:
    torch.manual_seed(1)
    c = ModelConfig(vocab_size=300, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, head_dim=16, intermediate_size=96, max_position_embeddings=64,
                    rope_theta=500.0, tie_word_embeddings=tie)
    m = GPT(c).eval()
    with torch.no_grad():  # move the norm gains off 1 so a mixed-up norm would show
        for p in m.parameters():
            if p.dim() == 1:
                p.add_(0.3 * torch.randn_like(p))
    return m


@pytest.mark.parametrize("tie", [False, True])
def test_same_logits_as_hf_qwen3_with_renamed_weights(tie):
    m = random_model(tie)
    hf = transformers.Qwen3ForCausalLM(transformers.Qwen3Config(**hf_config(m.config))).eval()
    missing, unexpected = hf.load_state_dict({hf_name(k): v for k, v in m.state_dict().items()}, strict=False)
    assert not missing and not unexpected
    idx = torch.randint(0, 300, (2, 40))
    with torch.no_grad():
        ours, theirs = m(idx), hf(idx).logits
    assert (ours - theirs).abs().max().item() < 1e-4


def test_checkpoint_folder_loads_in_transformers(tmp_path):
    from dentro.tokenizer.bpe import Tokenizer

    m = random_model(tie=False)
    save_checkpoint(tmp_path / "ckpt", m, Tokenizer([bytes([i]) for i in range(256)]))
    hf = transformers.Qwen3ForCausalLM.from_pretrained(tmp_path / "ckpt").eval()
    idx = torch.randint(0, 265, (1, 30))
    with torch.no_grad():
        assert (m(idx) - hf(idx).logits).abs().max().item() < 1e-4
