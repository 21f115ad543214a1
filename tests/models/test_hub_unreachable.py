"""A Hub name on a machine that cannot reach the Hub fails in seconds, not after retries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, time
from qa_lightning.models.loading import ModelLoadError, load_model_config, load_tokenizer
from huggingface_hub import constants
out = {}
for name, load in (("config", load_model_config), ("tokenizer", load_tokenizer)):
    started = time.perf_counter()
    try:
        load("some-org/some-model")
        out[name] = "loaded"
    except ModelLoadError as err:
        out[name] = str(err)
    out[name + "_seconds"] = time.perf_counter() - started
out["offline"] = constants.HF_HUB_OFFLINE
print(json.dumps(out))
"""


def test_an_unreachable_hub_fails_fast_with_one_actionable_line():
    """Without the probe, huggingface_hub retried each file for about 25 s here (5 retries
    with back-off) before the same error; now the first load finds the Hub unreachable in
    one connection attempt and every later one reads the local cache only."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") and "proxy" not in k.lower()
    }
    env["HF_ENDPOINT"] = "https://hub.invalid"  # a name no resolver answers (RFC 6761)
    env["HF_HOME"] = str(ROOT / ".pytest_cache" / "empty-hf-home")  # nothing cached
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["offline"] is True
    assert "cannot be reached" in proc.stderr and "local cache only" in proc.stderr
    for name in ("config", "tokenizer"):
        assert "could not load" in out[name] and "model=minilm" in out[name], out[name]
        assert "\n" not in out[name]
        assert out[f"{name}_seconds"] < 10, out
