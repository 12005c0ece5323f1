import json

import pytest
import torch

from dentro.model.checkpoint import CONFIG_FILE, MODEL_FILE, TRAIN_STATE_FILE, load_checkpoint, save_checkpoint
from dentro.errors import UserError
from dentro.model.gpt import GPT, ModelConfig
from dentro.tokenizer.bpe import TOKENIZER_FILE, Tokenizer


pytestmark = pytest.mark.usefixtures("one_thread")

BYTES = [bytes([i]) for i in range(256)]


def setup(tie=False):
    torch.manual_seed(0)
    tok = Tokenizer(BYTES + [b"ab", b"abc"])  # 258 ranks + 9 special tokens = 267
    model = GPT(ModelConfig(vocab_size=272, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            num_key_value_heads=1, head_dim=16, intermediate_size=64,
                            max_position_embeddings=32, tie_word_embeddings=tie))
    return model, tok


@pytest.mark.parametrize("tie", [False, True])
def test_round_trip_keeps_weights_tokenizer_and_train_state(tmp_path, tie):
    model, tok = setup(tie)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    idx = torch.randint(0, 267, (2, 16))
    model(idx, idx).backward()
    opt.step()
    state = {"step": 7, "optimizer": opt.state_dict(), "rng": torch.get_rng_state(), "data": {"shard": 3, "pos": 99}}
    save_checkpoint(tmp_path / "ck", model, tok, state, extra={"step": 7})
    m2, tok2, state2 = load_checkpoint(tmp_path / "ck")
    assert torch.equal(m2(idx), model.eval()(idx))
    assert tok2.encode("abcab") == tok.encode("abcab") and tok2.vocab_size == 267
    assert state2["step"] == 7 and state2["data"] == {"shard": 3, "pos": 99}
    assert torch.equal(state2["rng"], state["rng"])
    opt2 = torch.optim.AdamW(m2.parameters(), lr=1e-3)
    opt2.load_state_dict(state2["optimizer"])  # the optimizer resumes from what was saved
    if tie:
        assert m2.lm_head.weight is m2.embed_tokens.weight
    cfg = json.loads((tmp_path / "ck" / CONFIG_FILE).read_text())
    assert cfg["model_type"] == "qwen3" and cfg["architectures"] == ["Qwen3ForCausalLM"]
    assert cfg["dentro"]["step"] == 7 and cfg["dentro"]["tokenizer_vocab_size"] == 267
    assert cfg["eos_token_id"] == tok.eot_id
    _, _, none = load_checkpoint(tmp_path / "ck", load_train_state=False)
    assert none is None


def test_save_is_atomic_and_keeps_the_previous_checkpoint_on_failure(tmp_path, monkeypatch):
    model, tok = setup()
    save_checkpoint(tmp_path / "ck", model, tok, {"step": 1})
    save_checkpoint(tmp_path / "ck", model, tok, {"step": 2})  # replaces the old one
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]  # no temporary or old folders left
    assert load_checkpoint(tmp_path / "ck")[2]["step"] == 2

    def broken_save(self, path):
        raise OSError("disk full")

    monkeypatch.setattr(Tokenizer, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path / "ck", model, tok, {"step": 3})
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]
    assert load_checkpoint(tmp_path / "ck")[2]["step"] == 2


def test_crash_between_the_renames_falls_back_to_the_previous(tmp_path):
    model, tok = setup()
    save_checkpoint(tmp_path / "ck", model, tok, {"step": 5})
    (tmp_path / "ck").rename(tmp_path / ".ck.old")  # as if killed after moving the old one away
    assert load_checkpoint(tmp_path / "ck")[2]["step"] == 5


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(UserError, match="dentro pretrain"):
        load_checkpoint(tmp_path / "nothing")
    model, tok = setup()
    for name in (MODEL_FILE, TOKENIZER_FILE, CONFIG_FILE):
        save_checkpoint(tmp_path / "ck", model, tok)
        (tmp_path / "ck" / name).unlink()
        with pytest.raises(UserError, match=name.replace(".", r"\.")):
            load_checkpoint(tmp_path / "ck")


def test_corrupt_safetensors(tmp_path):
    model, tok = setup()
    save_checkpoint(tmp_path / "ck", model, tok)
    p = tmp_path / "ck" / MODEL_FILE
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(UserError, match="corrupt"):
        load_checkpoint(tmp_path / "ck")
    p.write_bytes(b"\x00" * 100)
    with pytest.raises(UserError, match="corrupt"):
        load_checkpoint(tmp_path / "ck")


def test_config_that_does_not_match_the_weights(tmp_path):
    model, tok = setup()
    save_checkpoint(tmp_path / "ck", model, tok)
    p = tmp_path / "ck" / CONFIG_FILE
    cfg = json.loads(p.read_text())
    cfg["intermediate_size"] = 128
    p.write_text(json.dumps(cfg))
    with pytest.raises(UserError, match=r"mlp\.gate_proj\.weight: stored \(64, 32\), config says \(128, 32\)"):
        load_checkpoint(tmp_path / "ck")
    cfg["intermediate_size"], cfg["num_hidden_layers"] = 64, 3
    p.write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="missing layers.2"):
        load_checkpoint(tmp_path / "ck")
    p.write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_checkpoint(tmp_path / "ck")


def test_tokenizer_that_does_not_belong_to_the_model(tmp_path):
    model, tok = setup()
    save_checkpoint(tmp_path / "ck", model, tok)
    Tokenizer(BYTES).save(tmp_path / "ck")  # 265 tokens instead of 267
    with pytest.raises(UserError, match="does not belong"):
        load_checkpoint(tmp_path / "ck")
    with pytest.raises(ValueError, match="embedding rows"):
        save_checkpoint(tmp_path / "ck2", model, Tokenizer(BYTES + [bytes([i, j]) for i in range(3) for j in range(3)]))


def test_corrupt_train_state(tmp_path):
    model, tok = setup()
    save_checkpoint(tmp_path / "ck", model, tok, {"step": 1})
    (tmp_path / "ck" / TRAIN_STATE_FILE).write_bytes(b"garbage")
    with pytest.raises(UserError, match="train_state.pt is corrupt"):
        load_checkpoint(tmp_path / "ck")
    assert load_checkpoint(tmp_path / "ck", load_train_state=False)[0] is not None


def test_write_false_gathers_but_writes_nothing(tmp_path):
    model, tok = setup()
    save_checkpoint(tmp_path / "ck", model, tok, {"step": 1}, write=False)  # a non-zero FSDP rank
    assert list(tmp_path.iterdir()) == []


def test_wrapped_and_bf16_models_save_plain_weights(tmp_path):
    model, tok = setup()

    class Wrapper(torch.nn.Module):  # torch.compile keeps the model in ._orig_mod, DDP in .module
        def __init__(self, attr, m):
            super().__init__()
            setattr(self, attr, m)

    save_checkpoint(tmp_path / "ck", Wrapper("module", Wrapper("_orig_mod", model)), tok)
    idx = torch.randint(0, 267, (1, 8))
    assert torch.equal(load_checkpoint(tmp_path / "ck")[0](idx), model.eval()(idx))
    save_checkpoint(tmp_path / "bf", model.to(torch.bfloat16), tok)
    assert json.loads((tmp_path / "bf" / CONFIG_FILE).read_text())["torch_dtype"] == "bfloat16"
    m2 = load_checkpoint(tmp_path / "bf")[0]
    assert m2.lm_head.weight.dtype == torch.float32 and torch.equal(m2.lm_head.weight, model.lm_head.weight.float())
    with pytest.raises(TypeError, match="dentro GPT"):
        save_checkpoint(tmp_path / "x", torch.nn.Linear(2, 2), tok)
