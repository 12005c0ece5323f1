#!/usr/bin/env bash
# Creates .venv (if missing) and installs dentro into it.
#   scripts/setup.sh          runtime dependencies
#   scripts/setup.sh dev      + test tools
# PyTorch is installed first, on purpose:
#   - a GPU machine (nvidia-smi present) gets the default PyPI build, which ships CUDA;
#   - a CPU machine gets a CPU-only build: the pinned wheel if a local one is offered
#     to pip (find-links), else PyTorch's CPU index. An unpinned `pip install torch`
#     on Linux would pull several GB of CUDA packages that a CPU never uses.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-}"
PY="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
TORCH_CPU_VERSION="${TORCH_CPU_VERSION:-2.13.0}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $($PY --version)"
  "$PY" -m venv "$VENV"
fi
# pip, minus the noise of this machine's local package mirrors
pip() { "$VENV/bin/python" -m pip "$@" 2> >(grep -v "is ignored: it is neither" >&2); }

if "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  echo "[setup] torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)') already installed"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
  echo "[setup] GPU found: installing the CUDA build of torch"
  pip install -q "torch>=2.6"
elif pip install -q --no-deps --no-index "torch==$TORCH_CPU_VERSION" 2>/dev/null; then
  echo "[setup] no GPU: installed the local CPU wheel of torch $TORCH_CPU_VERSION"
  pip install -q "torch==$TORCH_CPU_VERSION"   # its dependencies
else
  echo "[setup] no GPU: installing torch from PyTorch's CPU index"
  pip install -q torch --index-url https://download.pytorch.org/whl/cpu
fi

spec="."
[ -n "$extra" ] && spec=".[$extra]"
echo "[setup] installing dentro ($spec)"
pip install -q -e "$spec"
"$VENV/bin/python" -c "import dentro, torch; print('[setup] ok: dentro', dentro.__version__, '| torch', torch.__version__)"
