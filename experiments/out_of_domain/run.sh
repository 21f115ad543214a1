#!/usr/bin/env bash
# MiniLM fine-tuned with the recipe most users run (2 epochs, lr 5e-5, 256/96, batch 16) on the
# SQuAD v1.1 train subset, scored on the v1.1 dev subset and two SQuADShifts subsets, with
# intervals and slices. About 60 minutes on 2 CPU cores. The run folder goes to
# outputs/experiments/eval_sets/; the tables and plots come here.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=outputs/experiments/eval_sets
.venv/bin/python train.py experiment=minilm_squad_v1 \
  optimizer.lr=5e-5 trainer.max_epochs=2 data.max_length=256 data.doc_stride=96 data.batch_size=16 \
  trainer.enable_progress_bar=false trainer.precision=32-true \
  +data.eval_sets.new_wiki=../shared/data/squad_shifts/new_wiki_subset.json \
  +data.eval_sets.amazon=../shared/data/squad_shifts/amazon_reviews_subset.json \
  hydra.run.dir=$out
.venv/bin/python experiments/out_of_domain/summarise.py $out > experiments/out_of_domain/results.md
for name in validation new_wiki amazon; do
  folder=$out; [ $name = validation ] || folder=$out/eval/$name
  cp $folder/slices.png experiments/out_of_domain/slices_$name.png
done
