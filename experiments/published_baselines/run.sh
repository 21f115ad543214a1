#!/bin/bash
# The MiniLM recipe against published systems' predictions, paired; selective answering;
# XQuAD (es, zh) under the MLQA rules. Run from the repository's root. OUT: where the run
# folders go (outputs/experiments/published_baselines by default).
set -euo pipefail
OUT=${OUT:-outputs/experiments/published_baselines}
LB=../shared/data/leaderboard
XQ=../shared/data/xquad
Q="trainer.enable_progress_bar=false extras.print_config=false"

# 1. The MiniLM recipe runs. v1: the recipe of experiments/out_of_domain (2 epochs, lr 5e-5,
#    256/96); v2: conf/experiment/minilm_squad_v2 as it is (1 epoch, lr 1e-4, 256/96).
python train.py experiment=minilm_squad_v1 optimizer.lr=5e-5 trainer.max_epochs=2 \
  data.max_length=256 data.doc_stride=96 data.batch_size=16 $Q hydra.run.dir=$OUT/minilm_v1
python train.py experiment=minilm_squad_v2 $Q hydra.run.dir=$OUT/minilm_v2

# 2. Their best models scored by eval.py, named (the training runs above were made with the
#    commit before confidences were recorded; this adds them and the selective numbers).
python eval.py model.name_or_path=$OUT/minilm_v1/best_model data=squad_subset_v1 \
  "system_name=MiniLM recipe" $Q hydra.run.dir=$OUT/eval_minilm_v1
python eval.py model.name_or_path=$OUT/minilm_v2/best_model data=squad_subset_v2 \
  "system_name=MiniLM recipe" $Q hydra.run.dir=$OUT/eval_minilm_v2

# 3. The published systems' predictions as runs (no model).
python eval.py data=squad_subset_v1 "system_name=Logistic regression" \
  predictions_file=$LB/logistic_regression_v1.1_dev_subset.json $Q hydra.run.dir=$OUT/logreg_v1
python eval.py data=squad_subset_v2 "system_name=BiDAF + ELMo" \
  predictions_file=$LB/bidaf_self_attention_elmo_v2.0_dev_subset.json $Q hydra.run.dir=$OUT/bidaf_v2

# 4. Paired comparisons on the same questions.
qa-compare $OUT/eval_minilm_v1 $OUT/logreg_v1 --out $OUT/compare_v1
qa-compare $OUT/eval_minilm_v2 $OUT/bidaf_v2 --out $OUT/compare_v2

# 5. XQuAD with the English v1 model: scored with each language's rules, then the same
#    answers re-scored under the English rules (a predictions-file run), and predict.py.
python eval.py model.name_or_path=$OUT/minilm_v1/best_model data=squad_json \
  "+data.eval_sets.es={file:$XQ/xquad.es.json,language:es}" \
  "+data.eval_sets.zh={file:$XQ/xquad.zh.json,language:zh}" $Q hydra.run.dir=$OUT/xquad
python eval.py data=squad_json predictions_file=$OUT/xquad/eval/zh/predictions.json \
  "+data.eval_sets.zh=$XQ/xquad.zh.json" $Q hydra.run.dir=$OUT/xquad_zh_en_rules
python eval.py data=squad_json predictions_file=$OUT/xquad/eval/es/predictions.json \
  "+data.eval_sets.es=$XQ/xquad.es.json" $Q hydra.run.dir=$OUT/xquad_es_en_rules
for lang in es zh; do
  python predict.py model.name_or_path=$OUT/minilm_v1/best_model \
    data.predict_file=$XQ/xquad.$lang.json $Q hydra.run.dir=$OUT/predict_$lang
done

# 6. The language rules against the English ones, paired, on the same answers.
qa-compare $OUT/xquad $OUT/xquad_zh_en_rules --set zh --out $OUT/compare_rules_zh --no-plots
qa-compare $OUT/xquad $OUT/xquad_es_en_rules --set es --out $OUT/compare_rules_es --no-plots
