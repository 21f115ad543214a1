#!/usr/bin/env bash
# Does dynamic padding with length-grouped batches cost accuracy? One epoch at 256/96 with
# the bundled MiniLM on the SQuAD v1.1 subsets (1,500 train questions, lr 1e-4, batch 16),
# once as the package trains (length-grouped, padded per batch) and once as the plain recipe
# does (shuffled, every window padded to 256). Same seed, same features.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=outputs/experiments/padding_accuracy
common=(experiment=minilm_squad_v1 data.max_train_samples=1500 trainer.enable_progress_bar=false
        logger=csv save_best_model=false trainer.precision=32-true)  # fp32, as recorded
.venv/bin/python train.py "${common[@]}" hydra.run.dir=$out/dynamic
.venv/bin/python train.py "${common[@]}" data.pad_to_max_length=true data.group_by_length=false \
  hydra.run.dir=$out/padded
.venv/bin/python -m qa_lightning.compare $out/dynamic $out/padded --out experiments/padding_accuracy
