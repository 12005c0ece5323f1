#!/usr/bin/env bash
# The GPU checks of the training-speed issue, in one go, on one H100/H200 (about 10-12 minutes):
#   1. benchmarks/gpu_pretrain.py: tokens/s and MFU at ~124M and ~500M parameters, dentro's loop
#      beside a plain fused-AdamW step (bf16, torch.compile)
#   2. a short `dentro speedrun --preset small`: every stage on CUDA, pretraining capped at
#      $PRETRAIN_MINUTES minutes
#   3. torchrun --nproc_per_node 1: DDP, then FSDP2, each started and resumed from its checkpoint
# Everything it prints and writes goes to $OUT (default ./gpu_check): one log per step, the
# benchmark's JSON, the small run's report card. A failing step is recorded and the next one runs.
#
#   bash scripts/gpu_check.sh              # after `make setup` on the GPU machine
#   OUT=/tmp/g PRETRAIN_MINUTES=2 bash scripts/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu_check}"
PRETRAIN_MINUTES="${PRETRAIN_MINUTES:-3}"
PY=.venv/bin/python
mkdir -p "$OUT"
export DENTRO_HOME="$OUT/home" DENTRO_PROGRESS=0
RUN="$DENTRO_HOME/runs/small"
status=0

step() {  # step NAME COMMAND...: runs it, logs to $OUT/NAME.log, records the outcome
  local name=$1; shift
  echo "== $name: $*" | tee -a "$OUT/summary.txt"
  local t0=$SECONDS
  if "$@" >"$OUT/$name.log" 2>&1; then
    echo "   ok in $((SECONDS - t0)) s" | tee -a "$OUT/summary.txt"
  else
    echo "   FAILED (exit $?) in $((SECONDS - t0)) s; tail of $OUT/$name.log:" | tee -a "$OUT/summary.txt"
    tail -n 15 "$OUT/$name.log" | tee -a "$OUT/summary.txt"
    status=1
  fi
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/summary.txt"
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$OUT/summary.txt"

step gpu_pretrain $PY benchmarks/gpu_pretrain.py --json "$OUT/gpu_pretrain.json"
step speedrun_small $PY -m dentro speedrun --preset small --run "$RUN" --pretrain-minutes "$PRETRAIN_MINUTES"
[ -f "$RUN/report.md" ] && cp "$RUN/report.md" "$OUT/report_small.md"

for mode in ddp fsdp; do
  flag=""; [ "$mode" = fsdp ] && flag="--fsdp"
  step "${mode}_start" .venv/bin/torchrun --nproc_per_node 1 -m dentro pretrain --run "$RUN" --preset small $flag \
    --out "$OUT/$mode" --steps 20 --save-every 10 --eval-every 10 --sample-every 0
  step "${mode}_resume" .venv/bin/torchrun --nproc_per_node 1 -m dentro pretrain --run "$RUN" --preset small $flag \
    --out "$OUT/$mode" --steps 30 --save-every 10 --eval-every 10 --sample-every 0 --resume
done

grep -h "tokens/s\|MFU\|mfu" "$OUT/gpu_pretrain.log" | tail -n 12 | tee -a "$OUT/summary.txt"
echo "summary: $OUT/summary.txt (exit $status)"
exit $status
