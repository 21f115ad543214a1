#!/usr/bin/env bash
# Learning rate x doc_stride with the bundled MiniLM on the SQuAD v1.1 subsets in ../shared:
# 1,000 train questions (seeded sample), the 995-question dev subset, 192-token windows,
# 1 epoch, batch 16. 6 jobs, about 25 minutes on 2 CPU cores.
# Run folders go to outputs/experiments/lr_stride_sweep/; the report comes here.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=outputs/experiments/lr_stride_sweep
.venv/bin/python train.py -m experiment=minilm_squad_v1 trainer.precision=32-true \
  data.max_length=192 data.max_train_samples=1000 trainer.enable_progress_bar=false \
  optimizer.lr=5e-5,1.5e-4,4e-4 data.doc_stride=32,96 \
  hydra.sweep.dir=$out
.venv/bin/python -m qa_lightning.compare $out --out experiments/lr_stride_sweep
