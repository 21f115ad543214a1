#!/usr/bin/env bash
# Heads x freezing policies with MiniLM on the SQuAD v1.1 subsets in ../shared
# (1,500 train examples, the 995-question dev subset, 256/96 windows).
# Run folders go to outputs/experiments/frozen_heads/; the table and plot come here.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=outputs/experiments/frozen_heads
common=(experiment=frozen_head logger=csv trainer.enable_progress_bar=false
        trainer.precision=32-true)  # fp32, as recorded (trainer=cpu now picks bf16 where it can)

# Frozen encoder, every head, 6 epochs (cheap: the encoder's outputs come from the cache,
# built by the first job, read by the others).
.venv/bin/python train.py -m "${common[@]}" model.freeze=all trainer.max_epochs=6 \
  model.head=linear,mlp optimizer.lr=3e-3 hydra.sweep.dir=$out/all_probes
.venv/bin/python train.py -m "${common[@]}" model.freeze=all trainer.max_epochs=6 \
  model.head=bilstm,transformer model.head_args.hidden_size=128 optimizer.lr=1e-3 \
  hydra.sweep.dir=$out/all_contextual

# Less freezing, linear head: the encoder trains (no cache, a fine-tuning lr), 2 epochs.
.venv/bin/python train.py -m "${common[@]}" model.head=linear optimizer.lr=1e-4 \
  trainer.max_epochs=2 model.freeze=layers model.freeze_layers=4 hydra.sweep.dir=$out/layers4
.venv/bin/python train.py -m "${common[@]}" model.head=linear optimizer.lr=1e-4 \
  trainer.max_epochs=2 model.freeze=embeddings,none hydra.sweep.dir=$out/partial

.venv/bin/python experiments/frozen_heads/summarise.py $out
