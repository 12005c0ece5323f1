"""`dentro export --format hf`: the folder loads offline in transformers' Auto classes with the
same logits, greedy tokens and chat template as dentro (skipped without transformers)."""

import pytest
import torch

from dentro.chat.template import render_text
from dentro.export.hf import export_hf
from dentro.model.checkpoint import save_checkpoint
from dentro.model.engine import Sampling, generate_all
from dentro.model.gpt import GPT, ModelConfig
from dentro.tokenizer.bpe import train_tokenizer

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_thread")

TEXT = ("O céu é azul e a ação não é fácil; são 12 milhões. The sky is blue, it's 3.14 today. "
        "Emoji 😀 and café naïve. ") * 4


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export_hf")
    tok = train_tokenizer([TEXT], vocab_size=400)
    torch.manual_seed(0)
    c = ModelConfig(vocab_size=tok.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, head_dim=16, intermediate_size=96, max_position_embeddings=64,
                    initializer_range=0.1)
    model = GPT(c).eval()
    save_checkpoint(tmp / "ckpt", model, tok, train_state={"step": 1})
    files = export_hf(tmp / "ckpt", tmp / "hf")
    return tok, model, tmp / "hf", files


def test_folder_has_the_files_and_no_train_state(exported):
    _, _, _, files = exported
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "generation_config.json"} <= set(files)
    assert "train_state.pt" not in files


def test_auto_classes_load_offline_with_the_same_logits_and_greedy_tokens(exported, monkeypatch):
    tok, model, folder, _ = exported
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hf = transformers.AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).eval()
    hf_tok = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    for prompt in ["O céu é", "The sky is", "it's 3.14 😀"]:
        ids = [tok.eot_id] + tok.encode(prompt)
        assert hf_tok("<|endoftext|>" + prompt)["input_ids"] == ids
        x = torch.tensor([ids])
        with torch.no_grad():
            assert (hf(x).logits - model(x)).abs().max().item() < 1e-4
        out = hf.generate(x, max_new_tokens=12, do_sample=False, eos_token_id=tok.eot_id, pad_token_id=tok.eot_id)
        ours = generate_all(model, ids, max_tokens=12, sampling=Sampling(0), stop_ids={tok.eot_id})[0]
        assert out[0, len(ids):].tolist() == ours


def test_chat_template_renders_like_dentro(exported):
    _, _, folder, _ = exported
    hf_tok = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    convs = [[{"role": "user", "content": "Olá, tudo bem?"}],
             [{"role": "system", "content": "Seja breve."}, {"role": "user", "content": "2+2?"},
              {"role": "assistant", "content": "4"}, {"role": "user", "content": "And 3+3?"}]]
    for messages in convs:
        assert hf_tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == \
            render_text(messages, add_generation_prompt=True)
