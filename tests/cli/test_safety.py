"""No secret in run folders; no code from a model or a checkpoint runs unless the user says so.

* W&B keys and Hub tokens given the usual ways (environment, netrc) never land in configs,
  logs, W&B files, CSVs or checkpoints.
* A model whose config points to custom code is refused unless model.trust_remote_code=true,
  and a checkpoint cannot switch that on by itself.
* Checkpoints and ``.bin`` weights are read weights-only: a pickle that would run code is
  refused with one line, and its payload never runs.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf

from qa_lightning.errors import ConfigError
from qa_lightning.models.loading import ModelLoadError, load_encoder, load_qa_model
from tests.cli.test_train_eval import ROOT
from tests.tracking.test_wandb_outage import FAST


def _run(script: str, overrides: list[str], run_dir: Path, env: dict[str, str]):
    cmd = [sys.executable, str(ROOT / script), *overrides, f"hydra.run.dir={run_dir}"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **env}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _files(folder: Path) -> list[Path]:
    found = []
    for root, _, names in os.walk(folder):  # hidden folders (.hydra) too; links not followed
        found += [Path(root) / n for n in names if not (Path(root) / n).is_symlink()]
    return found


# -- secrets -------------------------------------------------------------------------------


def test_secrets_never_reach_run_folders_or_logs(tmp_path: Path, tiny_bert_dir) -> None:
    wandb_key, netrc_key = secrets.token_hex(20), secrets.token_hex(20)  # W&B's 40 hex
    hf_token, hf_legacy_token = f"hf_{secrets.token_hex(17)}", f"hf_{secrets.token_hex(17)}"
    netrc = tmp_path / "netrc"
    netrc.write_text(
        "".join(
            f"machine {host}\n  login user\n  password {netrc_key}\n"
            for host in ("api.wandb.ai", "api.forge.coreweave.com")
        )
    )
    env = {
        "WANDB_API_KEY": wandb_key,
        "HF_TOKEN": hf_token,
        "HUGGING_FACE_HUB_TOKEN": hf_legacy_token,
        "NETRC": str(netrc),
        "WANDB_MODE": "offline",  # with a key, mode=auto would go online
        "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"),
    }
    train_dir = tmp_path / "train"
    train = _run(
        "train.py",
        [
            f"model.name_or_path={tiny_bert_dir}",
            *FAST,
            "logger=wandb",
            f"paths.cache_dir={tmp_path / 'cache'}",
        ],
        train_dir,
        env,
    )
    assert train.returncode == 0, train.stderr[-4000:]

    files = _files(train_dir)
    names = {p.relative_to(train_dir).as_posix() for p in files}
    for expected in (
        ".hydra/config.yaml",
        ".hydra/hydra.yaml",
        "config.yaml",
        "train.log",
        "metrics.json",
        "csv/metrics.csv",
        "csv/hparams.yaml",
        "best_model/model.safetensors",
    ):
        assert expected in names, sorted(names)
    for suffix in (".ckpt", ".wandb", "debug-internal.log"):
        assert any(name.endswith(suffix) for name in names), suffix
    # the scan reads what the files hold: the model path is in the saved config
    assert any(str(tiny_bert_dir).encode() in p.read_bytes() for p in files)
    # saved models are safetensors only, nothing pickled
    assert not list((train_dir / "best_model").glob("*.bin"))

    outputs = train.stdout + train.stderr
    for secret in (wandb_key, netrc_key, hf_token, hf_legacy_token):
        assert secret not in outputs
        leaked = [p for p in files if secret.encode() in p.read_bytes()]
        assert not leaked, (secret[:6], leaked)


# -- remote code -----------------------------------------------------------------------------


def _with_custom_code(model_dir: Path, target: Path, model_type: str) -> tuple[Path, Path]:
    """A copy of ``model_dir`` whose config's auto_map points to code that leaves a marker."""
    shutil.copytree(model_dir, target)
    marker = target.parent / f"{target.name}-code-ran"
    config = json.loads((target / "config.json").read_text())
    config["model_type"] = model_type
    config["auto_map"] = {
        "AutoConfig": "custom_code.CustomConfig",
        "AutoModel": "custom_code.CustomQA",
        "AutoModelForQuestionAnswering": "custom_code.CustomQA",
    }
    (target / "config.json").write_text(json.dumps(config))
    (target / "custom_code.py").write_text(
        "from pathlib import Path\n"
        f"Path({str(marker)!r}).write_text('ran')\n"
        "from transformers import BertConfig, BertForQuestionAnswering\n"
        "class CustomConfig(BertConfig):\n"
        f"    model_type = {model_type!r}\n"
        "class CustomQA(BertForQuestionAnswering):\n"
        "    config_class = CustomConfig\n"
    )
    return target, marker


@pytest.fixture
def custom_code_model(tmp_path: Path, tiny_bert_dir) -> tuple[Path, Path]:
    return _with_custom_code(tiny_bert_dir, tmp_path / "custom", "qa-custom-test")


def test_custom_code_is_refused_by_default(custom_code_model, tmp_path, tiny_bert_dir) -> None:
    model_dir, marker = custom_code_model
    for load in (load_qa_model, load_encoder):
        with pytest.raises(ModelLoadError) as err:
            load(str(model_dir))
        message = str(err.value)
        assert "model.trust_remote_code=true" in message and "\n" not in message
    assert not marker.exists()
    # a known model type with an auto_map loads the library's own class, without the code
    known_dir, known_marker = _with_custom_code(tiny_bert_dir, tmp_path / "known", "bert")
    assert type(load_qa_model(str(known_dir))).__name__ == "BertForQuestionAnswering"
    assert not known_marker.exists()


def test_trust_remote_code_true_runs_the_custom_code(custom_code_model, tmp_path) -> None:
    """The positive control: the marker appears once the user trusts the code."""
    model_dir, marker = custom_code_model
    code = (
        "import sys; from qa_lightning.models.loading import load_qa_model; "
        "print(type(load_qa_model(sys.argv[1], trust_remote_code=True)).__name__)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(model_dir)],
        cwd=ROOT,
        # transformers copies trusted code into its modules cache: keep that out of ~/.cache
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "mods")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "CustomQA"
    assert marker.exists()


def test_serve_py_runs_a_folders_custom_code_only_when_told(custom_code_model, tmp_path) -> None:
    """serve.py's refusal names a key it accepts (model.trust_remote_code), and nothing ran."""
    from tests.cli.test_train_eval import run_entry

    model_dir, marker = custom_code_model
    proc = run_entry("serve.py", [f"model_dir={model_dir}", "port=0"], tmp_path / "s", check=False)
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 1 and "model.trust_remote_code=true" in line, proc.stderr[-2000:]
    assert not marker.exists()
    told = run_entry(
        "serve.py",
        [f"model_dir={model_dir}", "model.trust_remote_code=true", "port=-1"],
        tmp_path / "t",
        check=False,
    )
    assert "model.trust_remote_code" not in told.stderr  # the key exists (port fails instead)
    assert "port=-1 is out of range" in told.stderr


def _eval_cfg(tmp_path: Path):
    return OmegaConf.create(
        {
            "data": {
                "version_2": False,
                "max_length": 96,
                "n_best_size": 20,
                "max_answer_length": 30,
                "null_score_diff_threshold": 0.0,
            },
            "model": {"trust_remote_code": False},
            "paths": {"cache_dir": str(tmp_path / "cache")},
        }
    )


def test_a_checkpoint_cannot_switch_on_remote_code(custom_code_model, tmp_path) -> None:
    from qa_lightning.cli.common import load_module

    model_dir, marker = custom_code_model
    ckpt = tmp_path / "trusting.ckpt"
    hparams = {"model_name_or_path": str(model_dir), "trust_remote_code": True}
    torch.save(
        {
            "state_dict": {},
            "hyper_parameters": hparams,
            "pytorch-lightning_version": pl.__version__,
        },
        ckpt,
    )
    with pytest.raises(ModelLoadError, match="model.trust_remote_code=true"):
        load_module(_eval_cfg(tmp_path), str(ckpt))
    assert not marker.exists()


# -- pickles ---------------------------------------------------------------------------------


class _MakesDir:
    """Unpickled without weights_only, this creates a folder: stands in for any code."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (os.makedirs, (self.path,))


def _malicious(path: Path, marker: Path, **extra) -> Path:
    torch.save({**extra, "payload": _MakesDir(marker)}, path)
    # control: the same payload really runs when loaded the unsafe way
    control = marker.with_name(marker.name + "-control")
    torch.save({"payload": _MakesDir(control)}, marker.with_name("control.pt"))
    torch.load(marker.with_name("control.pt"), weights_only=False)
    assert control.is_dir()
    return path


def test_malicious_checkpoint_is_refused_by_eval(tmp_path: Path) -> None:
    marker = tmp_path / "payload-ran"
    hparams = {"model_name_or_path": "unused"}
    ckpt = _malicious(tmp_path / "evil.ckpt", marker, state_dict={}, hyper_parameters=hparams)
    proc = _run("eval.py", [f"ckpt_path={ckpt}", "data=synthetic"], tmp_path / "eval", {})
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: ckpt_path={ckpt} ") and "refused" in last, proc.stderr[-2000:]
    assert not marker.exists()
    # the same check guards resuming in train.py
    with pytest.raises(ConfigError, match="refused"):
        from qa_lightning.models.safe_checkpoint import read_checkpoint

        read_checkpoint(ckpt)
    assert not marker.exists()


def test_pickled_bin_weights_are_refused(tmp_path: Path, tiny_bert_dir) -> None:
    model_dir = tmp_path / "bin-model"
    model_dir.mkdir()
    shutil.copy(tiny_bert_dir / "config.json", model_dir)
    marker = tmp_path / "payload-ran"
    _malicious(model_dir / "pytorch_model.bin", marker)
    with pytest.raises(ModelLoadError, match="safetensors") as err:
        load_qa_model(str(model_dir))
    assert "\n" not in str(err.value)
    assert not marker.exists()
