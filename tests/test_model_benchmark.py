"""benchmarks/gpu_pretrain.py runs (on CPU, --smoke), so it is ready for a GPU; benchmarks/pretrain_cpu.py's
fair protocol (neutral held-out windows, the reference's learning-rate sweep) runs in its --smoke mode."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_thread")


def load_benchmark(name="gpu_pretrain"):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_gpu_benchmark_smoke_runs_on_cpu(tmp_path):
    bench = load_benchmark()
    rows = bench.main(["--smoke", "--steps", "2", "--warmup", "1", "--impl", "both", "--json", str(tmp_path / "r.json")])
    assert json.loads((tmp_path / "r.json").read_text()) == rows
    for r in rows:
        assert r["tokens_per_s"] > 0 and r["params"] > 0 and r["mfu"] is None  # no GPU peak on CPU
        assert r["tflops"] == pytest.approx(r["flops_per_token"] * r["tokens_per_s"] / 1e12, abs=0.01)


def test_gpu_benchmark_configs_are_about_124m_and_500m():
    bench = load_benchmark()
    from dentro.model.gpt import GPT

    sizes = {}
    for case in bench.CASES:
        cfg = bench.ModelConfig.from_depth(case.depth, bench.VOCAB, case.seq_len, tie_word_embeddings=case.tie)
        with torch.device("meta"):
            sizes[case.name] = GPT(cfg).num_params() / 1e6
    assert 110 < sizes["124M"] < 135 and 450 < sizes["500M"] < 550, sizes


def test_cpu_benchmark_neutral_windows_are_fixed_slices_of_the_held_out_stream():
    bench = load_benchmark("pretrain_cpu")
    stream = np.arange(1000, dtype=np.uint16)
    rows = bench.neutral_windows(stream, 8, 31, seed=0)
    assert rows.shape == (8, 32) and torch.equal(rows, bench.neutral_windows(stream, 8, 31, seed=0))
    assert all(torch.equal(r, torch.arange(int(r[0]), int(r[0]) + 32)) for r in rows)  # contiguous, in the stream
    x, y = bench.Windows(rows, 4).next_batch("cpu")
    assert torch.equal(x[:, 1:], y[:, :-1]) and x.shape == (4, 31)
    with pytest.raises(AssertionError, match="smaller --seq-len"):
        bench.neutral_windows(stream[:20], 8, 31)


def test_cpu_benchmark_smoke_sweeps_the_reference_and_scores_both_on_neutral_windows(capsys):
    bench = load_benchmark("pretrain_cpu")
    out = bench.main(["--smoke", "--torch-muon-too"])
    assert sorted(out["sweep"]) == [3e-4, 1e-3, 3e-3]
    assert out["ref_lr"] == min(out["sweep"], key=lambda lr: out["sweep"][lr]["val_bpb"])
    for loop in ("dentro", "dentro-torch-muon", "reference"):
        m = out["median"][loop]
        assert m["tok_s"] > 0 and m["tokens"] > 0 and m["params"] > 0
        assert 0 < m["val_bpb"] < 20 and 0 < m["packed_bpb"] < 20, m
    printed = capsys.readouterr().out
    assert f"reference (AdamW lr {out['ref_lr']:g}, best of 3)" in printed and "(best, used below)" in printed
    assert "on neutral windows" in printed and "on packed rows" in printed
    import dentro.train.loop as L
    from dentro.train.muon import Muon
    assert L.Muon is Muon  # the loop's own Muon is back after the torch.optim.Muon run


def test_arithmetic_benchmark_masks_the_prompt_and_scores_exact_answers():
    bench = load_benchmark("tokenizer_arithmetic")
    import random

    pairs = bench.problems(200, random.Random(0), 3)
    assert all(str(eval(p[:-1])) == a and int(a) >= 0 for p, a in pairs)  # true sums and differences
    tok = bench.train_tokenizer(["\n".join(p + a for p, a in pairs)], 300)
    x, y = bench.rows(tok, pairs[:4], 24)
    for (p, a), xr, yr in zip(pairs[:4], x, y):
        trained = [t for t in yr.tolist() if t != -1]
        assert tok.decode(trained) == a + "\n"  # the loss sees the answer and its newline only
        assert xr[0] == tok.special_id("<|endoftext|>")


def test_arithmetic_benchmark_smoke_runs_every_split_pattern(capsys):
    bench = load_benchmark("tokenizer_arithmetic")
    out = bench.main(["--smoke"])
    assert list(out) == list(bench.PATTERNS) and all(0 <= r[0]["acc"] <= 1 for r in out.values())
    tokens = {name: r[0]["answer_tokens"] for name, r in out.items()}
    assert tokens["{1} (qwen2, dentro)"] > tokens["{1,2} (dentro before)"]  # one token per digit
    assert "held-out exact match" in capsys.readouterr().out
