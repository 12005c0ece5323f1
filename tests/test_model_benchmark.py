"""benchmarks/gpu_pretrain.py runs (on CPU, --smoke), so it is ready for a GPU."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_thread")


def load_benchmark():
    spec = importlib.util.spec_from_file_location("gpu_pretrain", ROOT / "benchmarks" / "gpu_pretrain.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gpu_pretrain"] = mod  # dataclasses look their module up there
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
