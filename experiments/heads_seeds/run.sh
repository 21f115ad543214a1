#!/usr/bin/env bash
# Heads {linear, bilstm} x learning rates {1e-3, 3e-3} x seeds {1, 2, 3} on the frozen MiniLM
# (SQuAD v1.1 subsets in ../shared: 1,500 train questions drawn by the seed, the 995-question
# dev subset; 256/96 windows; 6 epochs). 12 jobs, about 20 minutes on 2 CPU cores: the
# encoder cache turns each epoch into head steps. The sweep writes its comparison and W&B
# summary run when it ends; the report and a diff are then copied here.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=outputs/experiments/heads_seeds
.venv/bin/python train.py -m experiment=frozen_head sweep=seeds trainer.precision=32-true \
  model.head=linear,bilstm optimizer.lr=1e-3,3e-3 model.head_args.hidden_size=128 \
  trainer.max_epochs=6 trainer.enable_progress_bar=false hydra.sweep.dir=$out
.venv/bin/python -m qa_lightning.compare $out --out experiments/heads_seeds
.venv/bin/python -m qa_lightning.compare diff "$out:head=linear,lr=3e-3" "$out:head=bilstm,lr=1e-3" \
  --out experiments/heads_seeds
