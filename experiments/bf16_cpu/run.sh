#!/usr/bin/env bash
# The common MiniLM recipe (2 epochs, lr 5e-5, 256/96, batch 16, the v1.1 train subset) in
# bf16 autocast on the CPU, scored on the v1.1 dev subset and two SQuADShifts subsets, and
# compared question by question with the same recipe in fp32 (out_of_domain/run.sh's run).
# About 35 minutes per run on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
fp32=outputs/experiments/eval_sets      # experiments/out_of_domain/run.sh (trainer.precision=32-true)
bf16=outputs/experiments/eval_sets_bf16
[ -f $fp32/metrics.json ] || bash experiments/out_of_domain/run.sh
.venv/bin/python train.py experiment=minilm_squad_v1 \
  optimizer.lr=5e-5 trainer.max_epochs=2 data.max_length=256 data.doc_stride=96 data.batch_size=16 \
  trainer.enable_progress_bar=false trainer.precision=bf16-mixed \
  +data.eval_sets.new_wiki=../shared/data/squad_shifts/new_wiki_subset.json \
  +data.eval_sets.amazon=../shared/data/squad_shifts/amazon_reviews_subset.json \
  hydra.run.dir=$bf16
for set in validation new_wiki amazon; do
  .venv/bin/python -m qa_lightning.compare $fp32 $bf16 --set $set --no-plots \
    --out outputs/experiments/bf16_compare/$set
done
.venv/bin/python experiments/bf16_cpu/summarise.py $fp32 $bf16 > experiments/bf16_cpu/results.md
