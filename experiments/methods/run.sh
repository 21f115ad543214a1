#!/bin/bash
# Full fine-tuning, LoRA at two ranks, a frozen encoder with a BiLSTM head, and a 3-layer
# student with and without distillation: the same data, seeds, three scored sets, one table.
# Run from the repository's root.
#   OUT:     where the sweep folders go (outputs/experiments/methods by default)
#   SEEDS:   the seeds of every method (1,2,3)
#   METHODS: which methods to train this time (all by default), e.g. METHODS="lora8 lora32"
#   TRAIN_ONLY: set to 1 to train and stop (timing, compare, speed and the summary come
#            after the last seed)
#   TEACHER: the distillation teacher, the recipe's best model (the MiniLM recipe at seed 42,
#            made by experiments/published_baselines/run.sh step 1)
set -euo pipefail
OUT=${OUT:-outputs/experiments/methods}
SEEDS=${SEEDS:-1,2,3}
TABLE="full lora8 lora32 bilstm student student_kd"
METHODS=${METHODS:-teacher $TABLE}  # and lora_lr
TEACHER=${TEACHER:-outputs/experiments/published_baselines/minilm_v1/best_model}
SHIFTS=../shared/data/squad_shifts
Q="trainer.enable_progress_bar=false extras.print_config=false"
SETS="+data.eval_sets.new_wiki=$SHIFTS/new_wiki_subset.json +data.eval_sets.amazon=$SHIFTS/amazon_reviews_subset.json"
# The recipe (experiments/out_of_domain): MiniLM, 2 epochs, lr 5e-5, 256/96 windows, batch 16.
RECIPE="experiment=minilm_squad_v1 optimizer.lr=5e-5 trainer.max_epochs=2 data.max_length=256 data.doc_stride=96 data.batch_size=16"
KD="+model.loss={_target_:qa_lightning.models.distillation.DistillationLoss,alpha:0.5,temperature:2.0}"
# LoRA (query and value, peft's default for BERT) at ranks 8 and 32, alpha = 2 x rank so the
# update's scale (alpha / rank) is the same, each at the best rate lora_lr has found for it
# (seed 1: rank 8 5e-4 17.8, 1e-3 40.3, 3e-3 52.4, 1e-2 7.9 F1; rank 32 5e-4 43.7, 1e-3 52.0,
# 3e-3 28.1).
LORA8_LR=${LORA8_LR:-3e-3}
LORA32_LR=${LORA32_LR:-1e-3}

method_args() {  # the overrides that make <method>, one per word
  case $1 in
    full) echo "$RECIPE" ;;
    lora8) echo "$RECIPE model.adapter.rank=8 model.adapter.alpha=16 optimizer.lr=$LORA8_LR" ;;
    lora32) echo "$RECIPE model.adapter.rank=32 model.adapter.alpha=64 optimizer.lr=$LORA32_LR" ;;
    # The best frozen variant of experiments/heads_seeds (BiLSTM 128, lr 3e-3, batch 32,
    # 6 epochs), here on the whole train subset.
    bilstm) echo "experiment=frozen_head model/head=bilstm model.head_args.hidden_size=128 \
      optimizer.lr=3e-3 trainer.max_epochs=6 data.max_train_samples=null" ;;
    # The student: layers 0, 2, 4 of the recipe's fine-tuned model (its teacher), trained by
    # the recipe, once with the span loss alone and once with the distillation loss: the
    # paired test of the distillation loss itself.
    student) echo "$RECIPE model.name_or_path=$TEACHER model.student_layers=[0,2,4]" ;;
    student_kd) echo "$(method_args student) model.teacher=$TEACHER $KD" ;;
  esac
}
system_name() {
  case $1 in
    full) echo "full fine-tuning" ;; lora8) echo "LoRA r=8" ;; lora32) echo "LoRA r=32" ;;
    bilstm) echo "frozen + BiLSTM" ;; student) echo "student [0,2,4]" ;;
    student_kd) echo "student [0,2,4] distilled" ;;
  esac
}

for method in $TABLE; do  # one sweep over the seeds per method
  case " $METHODS " in *" $method "*) ;; *) continue ;; esac
  read -ra args <<< "$(method_args $method)"  # split into words, never file patterns
  python train.py -m "${args[@]}" seed=$SEEDS "system_name='$(system_name $method)'" \
    $SETS $Q hydra.sweep.dir=$OUT/$method/seeds_${SEEDS//,/-}
done
# The learning rate for the adapters: each rank at seed 1 over four rates (not a method of
# the table: METHODS=lora_lr runs it).
case " $METHODS " in *" lora_lr "*)
  for rank in 8 32; do
    python train.py -m $RECIPE model.adapter.rank=$rank model.adapter.alpha=$((2 * rank)) \
      optimizer.lr=5e-4,1e-3,3e-3,1e-2 seed=1 "system_name='LoRA r=$rank'" $SETS $Q \
      hydra.sweep.dir=$OUT/lora_lr/rank$rank
  done ;;
esac
# The teacher itself (the recipe at seed 42), scored on the same sets.
case " $METHODS " in *" teacher "*)
  python eval.py model.name_or_path=$TEACHER data=squad_subset_v1 \
    "system_name='teacher (full fine-tuning, seed 42)'" $SETS $Q hydra.run.dir=$OUT/teacher ;;
esac
[ "${TRAIN_ONLY:-0}" = 1 ] && exit 0

# Training time, on a quiet machine: each method for one short epoch (the first 800 train
# questions, validation on 20), one after another; the throughput callback times the
# training steps alone (no validation, no encoder or teacher cache).
for method in $TABLE; do
  read -ra args <<< "$(method_args $method)"
  python train.py "${args[@]}" seed=1 data.max_train_samples=800 \
    trainer.max_epochs=1 data.max_eval_samples=20 save_best_model=false $Q \
    hydra.run.dir=$OUT/train_speed/$method > /dev/null 2>&1
done
# Every method against full fine-tuning (BASELINE: a system name), paired, on each set.
BASELINE=${BASELINE:-full fine-tuning}
ROOTS=$(ls -d $OUT/*/seeds_* $OUT/teacher 2>/dev/null)
for set in validation new_wiki amazon; do
  qa-compare $ROOTS --set $set --baseline "$BASELINE" --no-plots --out $OUT/compare_$set > /dev/null
  # the distillation loss itself: the same student with it against without it
  qa-compare $OUT/student/seeds_* $OUT/student_kd/seeds_* --set $set \
    --baseline "student [0,2,4]" --no-plots --out $OUT/compare_kd_$set > /dev/null
done
# Evaluation speed: the first run of each method (and the teacher) answering the dev subset
# with predict.py, one after another on the same machine. Each starts from an empty folder
# and its own empty encoder cache, so the frozen head's time includes its encoder pass.
for method in teacher $TABLE; do
  if [ "$method" = teacher ]; then model=$TEACHER; else
    model=$(ls -d $OUT/$method/seeds_*/0/best_model | head -1); fi
  rm -rf "$OUT/speed/$method"
  python predict.py model.name_or_path=$model data.predict_file=../shared/data/squad/squad_v1_dev_subset.json \
    data.encoder_cache_dir=$OUT/speed/$method/encoder_cache $Q hydra.run.dir=$OUT/speed/$method \
    > /dev/null 2>&1
done
python experiments/methods/summarise.py $OUT "$BASELINE" "$(dirname $TEACHER)" \
  experiments/methods/differences.png > experiments/methods/results.md
