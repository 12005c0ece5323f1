"""Supervised fine-tuning: the masked loader, `dentro sft --data` on a user's file with bad
lines, exact resume, and `dentro chat` once and in a conversation."""

import json

import numpy as np
import pytest
import torch

from dentro import cli
from dentro.train.sft import ConversationLoader, tokenize_conversations

PAD = 99


def _rows():
    rng = np.random.default_rng(0)
    rows = []
    for n in (5, 9, 3, 12, 7, 4, 6):
        ids = rng.integers(0, 50, n)
        mask = np.zeros(n, bool)
        mask[n // 2:] = True
        rows.append((ids, mask))
    return rows


def test_loader_targets_are_the_trained_tokens_only():
    rows = _rows()
    loader = ConversationLoader(rows, batch_size=2, seq_len=15, pad_id=PAD, shuffle=False)
    x, y = loader.next_batch()
    assert x.shape == y.shape == (2, 15)
    # row 0 holds conversations 0 (5 tokens) and 1 (9 tokens): 14 tokens, then padding
    full = np.concatenate([rows[0][0], rows[1][0], [PAD, PAD]])
    assert x[0].tolist() == full[:-1].tolist()
    trained = np.concatenate([rows[0][1], rows[1][1], [False, False]])
    want = np.where(trained[1:], full[1:], -1)
    assert y[0].tolist() == want.tolist()
    assert (y[0][-2:] == -1).all()  # padding is never a target
    # conversation 2 (3) + 3 (12) = 15 tokens < 16: both in row 1
    assert x[1][:3].tolist() == rows[2][0].tolist()


def test_loader_resumes_exactly():
    rows = _rows()
    a = ConversationLoader(rows, 2, 15, PAD, seed=3)
    for _ in range(3):
        a.next_batch()
    state = json.loads(json.dumps(a.state_dict()))  # survives a round trip through a file
    b = ConversationLoader(rows, 2, 15, PAD, seed=3)
    b.load_state_dict(state)
    for _ in range(4):
        xa, ya = a.next_batch()
        xb, yb = b.next_batch()
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


# ---- `dentro sft --data` and `dentro chat` end to end on a throwaway base model -------------

GOOD = [
    {"messages": [{"role": "user", "content": "Qual é a capital de Portugal?"},
                  {"role": "assistant", "content": "A capital de Portugal é Lisboa."}]},
    {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                  {"role": "user", "content": "What is the capital of France?"},
                  {"role": "assistant", "content": "The capital of France is Paris."}]},
    {"messages": [{"role": "user", "content": "Oi!"}, {"role": "assistant", "content": "Olá! Em que posso ajudar?"},
                  {"role": "user", "content": "Quem é você?"},
                  {"role": "assistant", "content": "Sou o dentro, um pequeno assistente."}]},
]


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, one_thread):
    """A run folder with a throwaway tokenizer and a random depth-1 base model (context 64)."""
    from dentro.model.checkpoint import save_checkpoint
    from dentro.model.gpt import GPT, ModelConfig
    from dentro.tokenizer.bpe import train_tokenizer

    texts = [m["content"] for c in GOOD for m in c["messages"]] * 20 + ["user\nassistant\nsystem\n"] * 20
    tok = train_tokenizer(texts, vocab_size=400)
    torch.manual_seed(0)
    model = GPT(ModelConfig.from_depth(1, vocab_size=tok.vocab_size, max_seq_len=64))
    run = tmp_path_factory.mktemp("run")
    save_checkpoint(run / "pretrain" / "checkpoint", model, tok, {"train_config": {
        "matrix_lr": 0.02, "embedding_lr": 0.01, "unembedding_lr": 0.004, "scalar_lr": 0.01, "adamw_lr": 1e-3,
        "optimizer": "muon"}})
    return run


def write_user_file(path, n_good=12):
    lines = [json.dumps(GOOD[i % len(GOOD)], ensure_ascii=False) for i in range(n_good)]
    bad = {
        3: "{not json",
        5: json.dumps({"messages": [{"role": "wizard", "content": "hi"}, {"role": "assistant", "content": "x"}]}),
        7: json.dumps({"messages": [{"role": "user", "content": "only a question"}]}),
        9: json.dumps({"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "x"}]}),
        11: json.dumps({"messages": [{"role": "user", "content": "long " * 200},
                                     {"role": "assistant", "content": "ok"}]}),
    }
    for line_no in sorted(bad):  # 1-based line numbers in the final file
        lines.insert(line_no - 1, bad[line_no])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return bad


def test_sft_on_a_users_file_skips_and_counts_bad_lines(base_run, tmp_path, capsys):
    data = tmp_path / "chats.jsonl"
    write_user_file(data)
    out = tmp_path / "sft"
    assert cli.main(["sft", "--run", str(base_run), "--preset", "micro", "--data", str(data),
                     "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads((out / "result.json").read_text())
    stats = result["data"]["files"][str(data)]
    assert stats["kept"] == 13  # 12 good + the one too long for the context (dropped later)
    assert sum(stats["skipped"].values()) == 4
    assert sorted(n for lines in stats["skipped_lines"].values() for n in lines) == [3, 5, 7, 9]
    assert result["data"]["train"]["too_long"] + result["data"]["val"]["too_long"] == 1
    assert (out / "checkpoint" / "model.safetensors").is_file() and (out / "loss.png").is_file()
    assert "bad lines skipped" in printed


def test_sft_file_without_a_usable_line_is_a_clear_error(base_run, tmp_path, capsys):
    data = tmp_path / "bad.jsonl"
    data.write_text("{nope\n" + json.dumps({"messages": []}) + "\n")
    assert cli.main(["sft", "--run", str(base_run), "--preset", "micro", "--data", str(data),
                     "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl" in err and "error" in err


def killed_at_step_2_then_resumed(monkeypatch, argv: list[str], before_resume=None) -> None:
    """`dentro *argv` killed right after its step-2 checkpoint (exit 130), then `dentro *argv
    --resume`, which must finish; before_resume() runs in between. Shared by the stages' resume tests."""
    import dentro.model.checkpoint as C

    save = C.save_checkpoint

    def save_then_die(folder, model, tok, state=None, **kw):
        save(folder, model, tok, state, **kw)
        if state and state["step"] == 2:
            raise KeyboardInterrupt  # killed right after the checkpoint of step 2

    monkeypatch.setattr(C, "save_checkpoint", save_then_die)
    assert cli.main(argv) == 130
    monkeypatch.setattr(C, "save_checkpoint", save)
    if before_resume:
        before_resume()
    assert cli.main(argv + ["--resume"]) == 0


def test_sft_resume_continues_exactly(base_run, tmp_path, monkeypatch):
    """6 steps at once == a run killed right after its step-2 checkpoint, then --resume: same losses."""

    data = tmp_path / "chats.jsonl"
    write_user_file(data)

    def losses(out):
        recs = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines() if l.strip()]
        return [r["loss"] for r in recs if "loss" in r]

    common = ["sft", "--run", str(base_run), "--preset", "micro", "--data", str(data), "--steps", "6",
              "--save-every", "2"]
    assert cli.main(common + ["--out", str(tmp_path / "a")]) == 0
    killed_at_step_2_then_resumed(monkeypatch, common + ["--out", str(tmp_path / "b")])
    a, b = losses(tmp_path / "a"), losses(tmp_path / "b")
    assert len(a) == 6 and a == b


def test_sft_saves_the_fine_tuned_weights_interpolated_with_the_base(base_run, tmp_path, capsys):
    """--interpolate A saves A x the fine-tuned weights + (1 - A) x the base's (WiSE-FT); 1 saves
    them as trained. The training itself is the same, so the two runs' weights tell the mix."""
    from dentro.model.checkpoint import load_checkpoint, read_config
    from dentro.runs import stage_can_resume

    data = tmp_path / "chats.jsonl"
    write_user_file(data)
    common = ["sft", "--run", str(base_run), "--preset", "micro", "--data", str(data), "--steps", "4"]
    assert cli.main(common + ["--out", str(tmp_path / "a"), "--interpolate", "1"]) == 0
    assert cli.main(common + ["--out", str(tmp_path / "b"), "--interpolate", "0.25"]) == 0
    base, _, _ = load_checkpoint(base_run / "pretrain" / "checkpoint", "cpu", load_train_state=False)
    a, _, state_a = load_checkpoint(tmp_path / "a" / "checkpoint", "cpu")
    b, _, state_b = load_checkpoint(tmp_path / "b" / "checkpoint", "cpu")
    moved = 0
    for (name, w0), w1, w2 in zip(base.state_dict().items(), a.state_dict().values(), b.state_dict().values()):
        torch.testing.assert_close(w2, 0.25 * w1 + 0.75 * w0, msg=name)
        moved += not torch.equal(w0, w1)
    assert moved > 0  # the fine-tuning changed weights, so the mix is not trivially the base
    assert read_config(tmp_path / "b" / "checkpoint")[1]["interpolated"]["alpha"] == 0.25
    assert "interpolated" not in read_config(tmp_path / "a" / "checkpoint")[1]
    # the training state stays (the next stages read their learning rates from it); resuming is refused
    assert state_b["train_config"] == state_a["train_config"] and state_b["step"] == state_a["step"] == 4
    capsys.readouterr()
    assert cli.main(common + ["--out", str(tmp_path / "b"), "--resume"]) == 2
    assert "finished fine-tuning" in capsys.readouterr().err
    (tmp_path / "b" / "result.json").unlink()  # as if killed just after the mixed weights were saved
    assert not stage_can_resume(tmp_path / "b", "micro")  # the stage starts over instead of resuming them
    assert cli.main(common + ["--out", str(tmp_path / "c"), "--interpolate", "0"]) == 2  # out of range
    assert "out of range" in capsys.readouterr().err


def test_chat_once_and_errors(base_run, tmp_path, capsys, monkeypatch):
    data = tmp_path / "chats.jsonl"
    write_user_file(data)
    assert cli.main(["sft", "--run", str(base_run), "--preset", "micro", "--data", str(data)]) == 0
    capsys.readouterr()
    assert cli.main(["chat", "Quem é você?", "--run", str(base_run), "--max-tokens", "5"]) == 0
    assert capsys.readouterr().out.strip()  # something was said (a random model: anything)
    empty = tmp_path / "empty_run"
    empty.mkdir()
    assert cli.main(["chat", "oi", "--run", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "dentro sft" in err and "dentro sample" in err
    assert cli.main(["chat", "  ", "--run", str(base_run)]) == 2   # an empty question: said, not answered
    assert "nothing to ask" in capsys.readouterr().err


def test_chat_session_commands(base_run, capsys, monkeypatch):
    import io

    from dentro.commands.chat import Session
    from dentro.model.checkpoint import load_checkpoint

    model, tok, _ = load_checkpoint(base_run / "pretrain" / "checkpoint", load_train_state=False)
    out = io.StringIO()
    s = Session(model, tok, "en", None, 0.0, None, 4, None, out=out)
    assert s.probs().startswith("(no answer yet")
    s.ask("hello")
    assert len(s.messages) == 2 and s.messages[1]["role"] == "assistant"
    assert "step 1" in s.probs()
    assert s.command("/temperature 0.5") and s.temperature == 0.5
    assert s.command("/temperature -1") and s.temperature == 0.5  # refused, said why
    assert s.command("/system Be brief.") and s.conversation()[0] == {"role": "system", "content": "Be brief."}
    assert s.command("/reset") and s.messages == []
    assert not s.command("/quit")
    # a conversation longer than the window: the oldest turns go, and the user is told
    for _ in range(12):
        s.ask("Qual é a capital de Portugal? " * 2)
    assert "oldest" in out.getvalue()


# ---- thinking switched off: `dentro chat --no-think`, /think on|off, the dimmed <think> block ----
def think_off_ids(tok) -> list[int]:
    from dentro.chat.template import THINK_OFF

    return tok.encode_with_special(THINK_OFF, allowed={"<think>", "</think>"})


def test_no_think_prompt_ends_with_the_empty_block(base_run, capsys, monkeypatch):
    from dentro.chat import assistant
    from dentro.model.checkpoint import load_checkpoint

    model, tok, _ = load_checkpoint(base_run / "pretrain" / "checkpoint", load_train_state=False)
    off_ids, msgs = think_off_ids(tok), [{"role": "user", "content": "Quem é você?"}]
    on, off = assistant.build_prompt(tok, msgs, 64, 8), assistant.build_prompt(tok, msgs, 64, 8, think=False)
    assert off_ids[0] == tok.special_id("<think>") and off.ids == on.ids + off_ids
    # reply / reply_batch continue that prompt: the same greedy tokens as the engine on off.ids
    from dentro.model.engine import Sampling, generate_all

    stops = assistant.stop_ids(tok)
    want = tok.decode([t for t in generate_all(model, off.ids, max_tokens=6, sampling=Sampling(temperature=0),
                                               stop_ids=stops)[0] if t not in stops])
    assert assistant.reply(model, tok, msgs, max_tokens=6, think=False) == want
    assert assistant.reply_batch(model, tok, [msgs], max_tokens=6, think=False)[0]["text"] == want

    # `dentro chat --no-think` builds that prompt, with the tool loop and without it
    seen = []

    def spy(*a, **kw):
        p = real(*a, **kw)
        seen.append(p.ids)
        return p

    real = assistant.build_prompt
    monkeypatch.setattr(assistant, "build_prompt", spy)
    ckpt = ["--run", str(base_run), "--checkpoint", str(base_run / "pretrain" / "checkpoint"), "--max-tokens", "3"]
    for extra in (["--no-think"], ["--no-think", "--no-tools"], [], ["--no-tools"]):
        assert cli.main(["chat", "Quem é você?", *ckpt, *extra]) == 0
    assert [ids[-len(off_ids):] == off_ids for ids in seen] == [True, True, False, False]
    assert seen[1] == off.ids and seen[3] == on.ids
    from dentro.chat.tool_mix import with_tools_prompt  # with tools, the system message says so

    assert seen[0] == assistant.build_prompt(tok, with_tools_prompt(msgs), 64, 8, think=False).ids
    assert seen[2] == assistant.build_prompt(tok, with_tools_prompt(msgs), 64, 8).ids
    assert "<think>" not in capsys.readouterr().out  # the prefilled block is not printed


def test_think_command_and_history(base_run):
    import io

    from dentro.chat.template import THINK_OFF
    from dentro.commands.chat import Session
    from dentro.model.checkpoint import load_checkpoint

    model, tok, _ = load_checkpoint(base_run / "pretrain" / "checkpoint", load_train_state=False)
    out = io.StringIO()
    s = Session(model, tok, "en", None, 0.0, None, 4, None, out=out, think=False)
    answer = s.ask("hello")
    # the conversation keeps the block the template wrote (the model read it); the screen does not
    assert s.messages[1]["content"] == THINK_OFF + answer and THINK_OFF not in out.getvalue()
    assert s.command("/think on") and s.think and "thinking on" in out.getvalue()
    s.ask("hello again")
    assert not s.messages[3]["content"].startswith(THINK_OFF)
    assert s.command("/think off") and not s.think
    assert s.command("/think maybe") and not s.think and "/think on or /think off; it is off" in out.getvalue()
    assert s.command("/help") and "/think on|off" in out.getvalue()
    pt = Session(model, tok, "pt", None, 0.0, None, 4, None, out=io.StringIO())
    pt.command("/think off")
    assert "pensamento desligado" in pt.out.getvalue() and not pt.think


def test_think_block_is_dimmed_on_a_terminal_only(base_run, monkeypatch):
    """The model's <think>...</think> shows dimmed (ANSI) on a terminal, plain in a pipe; the answer normally."""
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True

    from dentro.commands.chat import Session, ThinkShade
    from dentro.model import engine
    from dentro.model.checkpoint import load_checkpoint

    model, tok, _ = load_checkpoint(base_run / "pretrain" / "checkpoint", load_train_state=False)
    text = "<think>\n2 + 2 = 4\n</think>\n\n4"
    script = tok.encode_with_special(text, allowed={"<think>", "</think>"}) + [tok.special_id("<|im_end|>")]

    def scripted(model, prompt, **kw):  # the engine "writes" the script, token by token
        for t in script:
            yield engine.Step([t], [False])

    monkeypatch.setattr(engine, "generate", scripted)
    for out, shown in [(Tty(), "\033[2m<think>\n2 + 2 = 4\n</think>\033[0m\n\n4\n"), (io.StringIO(), text + "\n")]:
        s = Session(model, tok, "en", None, 0.0, None, 32, None, out=out)
        assert s.ask("2 + 2?") == text and out.getvalue() == shown
    # the block's tags may come in pieces (spelled in plain characters): a tag's start waits
    shade = ThinkShade(True)
    pieces = [shade.push(d) for d in ["a <th", "ink>b</thi", "nk>c"]] + [shade.end()]
    assert pieces == ["a ", "\033[2m<think>b", "</think>\033[0mc", ""]
    shade = ThinkShade(True)
    assert shade.push("<think>cut") + shade.end() == "\033[2m<think>cut\033[0m"  # an open block is closed


def write_pretraining_tokens(run, tok, texts, vocab_size=None):
    """<run>/pretrain/tokens as dentro pretrain writes it: one train shard of documents, each
    starting with <|endoftext|>."""
    import numpy as np

    from dentro.train.data import token_dtype, write_shard

    folder = run / "pretrain" / "tokens"
    folder.mkdir(parents=True, exist_ok=True)
    ids = [t for text in texts for t in [tok.eot_id] + tok.encode(text)]
    write_shard(folder / "train_000000.bin", np.asarray(ids, token_dtype(tok.vocab_size)), len(texts))
    meta = {"vocab_size": vocab_size or tok.vocab_size, "eot_id": tok.eot_id,
            "splits": {"train": {"shards": ["train_000000.bin"], "tokens": len(ids), "docs": len(texts)}}}
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def test_replay_rows_are_whole_windows_of_pretraining_text(base_run, tmp_path):
    from dentro.model.checkpoint import load_checkpoint
    from dentro.train.sft import replay_rows

    _, tok, _ = load_checkpoint(base_run / "pretrain" / "checkpoint", "cpu", load_train_state=False)
    docs = [f"{m['content']} " * 6 for c in GOOD for m in c["messages"]]
    folder = write_pretraining_tokens(tmp_path, tok, docs)
    rows = replay_rows(folder, 9, seq_len=16, seed=3)
    assert len(rows) == 9
    for ids, mask in rows:
        assert len(ids) == 17 and mask.all()  # every token of pretraining text is trained
        assert ids[0] == tok.eot_id  # a window starts at a document (all are longer than 17 tokens)
    assert [r[0].tolist() for r in rows] == [r[0].tolist() for r in replay_rows(folder, 9, 16, seed=3)]
    assert replay_rows(folder, 0, 16) == []


def test_sft_mixes_pretraining_text_in_when_the_run_has_it(base_run, tmp_path, capsys):
    import shutil

    from dentro.model.checkpoint import load_checkpoint

    run = tmp_path / "run"
    shutil.copytree(base_run, run)
    data = tmp_path / "chats.jsonl"
    write_user_file(data)
    argv = ["sft", "--run", str(run), "--preset", "micro", "--data", str(data), "--pretrain-replay", "0.5"]
    assert cli.main(argv + ["--out", str(tmp_path / "none")]) == 0  # no tokens yet: said, and trained without
    assert "no pretraining tokens" in capsys.readouterr().out
    _, tok, _ = load_checkpoint(run / "pretrain" / "checkpoint", "cpu", load_train_state=False)
    write_pretraining_tokens(run, tok, [f"{m['content']} " * 4 for c in GOOD for m in c["messages"]])
    assert cli.main(argv + ["--out", str(tmp_path / "mixed")]) == 0
    train = json.loads((tmp_path / "mixed" / "result.json").read_text())["data"]["train"]
    assert train["replay_rows"] >= 1 and "pretraining text mixed in" in capsys.readouterr().out
    write_pretraining_tokens(run, tok, ["x"], vocab_size=tok.vocab_size + 1)  # another tokenizer's tokens
    assert cli.main(argv + ["--out", str(tmp_path / "other")]) == 0
    assert "another tokenizer" in capsys.readouterr().out
    assert json.loads((tmp_path / "other" / "result.json").read_text())["data"]["train"]["replay_rows"] == 0


def test_language_check_ignores_the_names_a_reply_shares_with_the_question_and_answer():
    from dentro.commands.sft import without_names
    from dentro.web.language import identify

    q, answers = "Who is Felipe Pereira Noronha's mother?", ["Mariana Rezende Pereira"]
    reply = "The mother of Felipe Pereira Noronha is Mariana Rezende Pereira."
    assert without_names(reply, q, answers) == "The mother of is"
    assert identify(without_names(reply, q, answers))[0] == "en"
    wrong = "A mãe de Felipe Pereira Noronha é Mariana Rezende Pereira, segundo os registros da cidade."
    assert identify(without_names(wrong, q, answers))[0] == "pt"  # the wrong language is still caught
    assert without_names("Felipe Pereira Noronha", q, answers) == "Felipe Pereira Noronha"  # nothing left: as is
