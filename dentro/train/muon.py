"""Muon whose Newton-Schulz iteration runs in the training's matmul dtype.

torch.optim.Muon orthogonalises every update in bf16. That is what Muon's authors do on GPUs, and on
CPUs that multiply bf16 in hardware (AVX512-BF16, AMX) it costs nothing. Elsewhere (AVX2-only x86
such as most AMD EPYC before Zen 4, many laptops) oneDNN emulates bf16 matrix products about 100x
slower than fp32: measured on a 2-core AMD EPYC VM, a 1024x1024 product ran at 0.8 GFLOPS in bf16
against 115 in fp32, and the tiny preset's optimiser step took ~9 s instead of milliseconds, so
pretraining ran at ~440 tokens/s instead of thousands (docs/pretrain.md). Here the iteration runs
in `ns_dtype`: bf16 where the training's matmuls are bf16 (then it is torch's computation, to the
bit: tests/test_train.py), fp32 where they are fp32.

The update (Jordan et al. 2024, https://kellerjordan.github.io/posts/muon/): a momentum buffer
B <- mu B + (1 - mu) g; the Nesterov direction g + mu (B - g); 5 steps of the quintic Newton-Schulz
iteration X <- a X + (b X X^T + c (X X^T)^2) X on the direction scaled to norm 1 (on its transpose
when it is tall); decoupled weight decay; the step scaled by sqrt(max(1, rows / cols)). The
optimiser's state (one momentum buffer per matrix) is torch.optim.Muon's, so a checkpoint resumes
on either kind of machine.
"""

from __future__ import annotations

import math

import torch


def orthogonalise(g: torch.Tensor, coefficients: tuple[float, float, float], steps: int, eps: float,
                  dtype: torch.dtype) -> torch.Tensor:
    """The quintic Newton-Schulz iteration on `g` in `dtype`: roughly U V^T of g = U S V^T, with the
    singular values pushed into about [0.5, 1.5] rather than exactly 1 (what makes 5 steps enough)."""
    if g.ndim != 2:
        raise ValueError(f"Muon orthogonalises 2D matrices; got a tensor of shape {tuple(g.shape)}")
    a, b, c = coefficients
    x = g.to(dtype)
    tall = g.size(0) > g.size(1)
    if tall:
        x = x.T
    x = x / x.norm().clamp(min=eps)
    for _ in range(steps):
        gram = x @ x.T
        poly = torch.addmm(gram, gram, gram, beta=b, alpha=c)     # b G + c G G
        x = torch.addmm(x, poly, x, beta=a)                       # a X + (b G + c G G) X
    return x.T if tall else x


def lr_scale(shape: torch.Size, adjust_lr_fn: str | None) -> float:
    rows, cols = shape[:2]
    if adjust_lr_fn in (None, "original"):
        return math.sqrt(max(1.0, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":                       # Liu et al. 2025, Moonlight
        return 0.2 * math.sqrt(max(rows, cols))
    return 1.0


class Muon(torch.optim.Muon):
    """torch.optim.Muon (same arguments and state) with `ns_dtype`, the dtype of the orthogonalisation."""

    def __init__(self, params, *, ns_dtype: torch.dtype = torch.bfloat16, **kwargs):
        super().__init__(params, **kwargs)
        self.ns_dtype = ns_dtype

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, decay, mu = float(group["lr"]), group["weight_decay"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p.grad, memory_format=torch.preserve_format)
                buf = state["momentum_buffer"]
                buf.lerp_(p.grad, 1 - mu)
                direction = p.grad.lerp(buf, mu) if group["nesterov"] else buf
                update = orthogonalise(direction, group["ns_coefficients"], group["ns_steps"], group["eps"],
                                       self.ns_dtype)
                p.mul_(1 - lr * decay)
                p.add_(update, alpha=-lr * lr_scale(p.shape, group["adjust_lr_fn"]))
        return loss
