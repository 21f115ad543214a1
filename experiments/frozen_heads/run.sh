#!/usr/bin/env bash
# Heads x freezing policies with MiniLM on the SQuAD v1.1 subsets in ../shared
# (1,500 train examples, the 995-question dev subset, 256/96 windows, 2 epochs).
# Run folders go to outputs/experiments/frozen_heads/; the table and plot come here.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=outputs/experiments/frozen_heads
common=(experiment=frozen_head logger=csv trainer.enable_progress_bar=false)

# Frozen encoder, every head; the first job builds the encoder cache, the others read it.
.venv/bin/python train.py -m "${common[@]}" model.freeze=all \
  model.head=linear,mlp,bilstm,transformer optimizer.lr=1e-3 hydra.sweep.dir=$out/all

# Less freezing, linear head (the encoder trains, so no cache and a fine-tuning lr).
.venv/bin/python train.py -m "${common[@]}" model.head=linear optimizer.lr=1e-4 \
  model.freeze=layers model.freeze_layers=4 hydra.sweep.dir=$out/layers4
.venv/bin/python train.py -m "${common[@]}" model.head=linear optimizer.lr=1e-4 \
  model.freeze=embeddings,none hydra.sweep.dir=$out/partial

.venv/bin/python experiments/frozen_heads/summarise.py $out
