#!/usr/bin/env bash
# The doc_stride question of this sweep again, with seeds: at the best learning rate (4e-4),
# doc_stride {32, 96} x seeds {1, 2, 3}, everything else as in run.sh. 6 jobs, about
# 25 minutes on 2 CPU cores. The comparison (paired tests) and a diff come here.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=outputs/experiments/stride_seeds
.venv/bin/python train.py -m experiment=minilm_squad_v1 sweep=seeds trainer.precision=32-true \
  data.max_length=192 data.max_train_samples=1000 trainer.enable_progress_bar=false \
  optimizer.lr=4e-4 data.doc_stride=32,96 hydra.sweep.dir=$out
mkdir -p experiments/lr_stride_sweep/seeds
.venv/bin/python -m qa_lightning.compare $out --out experiments/lr_stride_sweep/seeds
.venv/bin/python -m qa_lightning.compare diff "$out:doc_stride=96" "$out:doc_stride=32" \
  --out experiments/lr_stride_sweep/seeds
