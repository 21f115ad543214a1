"""export.py: a run's best model (or a checkpoint) as one folder anyone can load, with its
model card."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf

from qa_lightning.atomic import atomic_directory
from qa_lightning.errors import ConfigError, UserError
from qa_lightning.inference.answerer import DecodingSettings
from qa_lightning.tracking.model_card import model_card

log = logging.getLogger(__name__)


class HubUploadError(UserError, RuntimeError):
    """The folder was written but could not be uploaded."""


def run_folder(run: str) -> Path:
    """The run folder named by ``run`` (or holding the checkpoint ``run``), checked for what
    an export needs."""
    path = Path(run)
    if path.is_file():
        folder = next((p for p in path.parents if (p / "config.yaml").is_file()), None)
        if path.suffix != ".ckpt" or folder is None:
            raise ConfigError(
                f"run={run}: give a train.py run folder, or a .ckpt inside one (its "
                "config.yaml describes the training)"
            )
        return folder
    for needed in ("config.yaml", "metrics.json", "best_model/config.json"):
        if not (path / needed).is_file():
            raise ConfigError(
                f"run={run}: {needed} is missing; give a finished train.py run folder "
                "(trained with save_best_model=true), or one of its checkpoints"
            )
    return path


def save_checkpoint_model(checkpoint_path: Path, config: dict, folder: Path) -> None:
    """The checkpoint's model (and head) and tokenizer as ``save_pretrained`` writes them."""
    from qa_lightning.cli.common import load_module
    from qa_lightning.data.datamodule import tokenizer_from_checkpoint
    from qa_lightning.models.loading import load_tokenizer
    from qa_lightning.models.safe_checkpoint import read_checkpoint

    checkpoint = read_checkpoint(checkpoint_path, key="run")
    trust = bool(config["model"].get("trust_remote_code", False))
    module = load_module(
        OmegaConf.create({"model": {"trust_remote_code": trust}}), str(checkpoint_path), checkpoint
    )
    module.save_pretrained(folder)
    tokenizer = tokenizer_from_checkpoint(checkpoint) or load_tokenizer(
        config["model"].get("tokenizer") or config["model"]["name_or_path"]
    )
    tokenizer.save_pretrained(folder)


def decoding_settings(config: dict) -> DecodingSettings:
    """The windows and decoding the run was scored with."""
    data = config["data"]
    return DecodingSettings(
        max_length=data["max_length"],
        doc_stride=data["doc_stride"],
        max_question_tokens=data.get("max_question_tokens"),
        n_best_size=data["n_best_size"],
        max_answer_length=data["max_answer_length"],
        version_2=bool(data["version_2"]),
        null_score_diff_threshold=float(data["null_score_diff_threshold"]),
    )


def write_export(
    run: Path,
    out: Path,
    *,
    checkpoint: Path | None = None,
    onnx: bool = False,
    quantize: bool = False,
) -> Path:
    """The model (``best_model/``, or ``checkpoint`` of the run) with its tokenizer and any
    head files, the decoding settings, the card and, with ``onnx``/``quantize``, the ONNX
    graphs, written to a temporary folder and renamed into place."""
    config = yaml.safe_load((run / "config.yaml").read_text())
    metrics_file = run / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else None
    if checkpoint is None and not (metrics or {}).get("sets"):
        raise ConfigError(f"run={run}: metrics.json holds no evaluation set; was it finished?")
    if checkpoint is not None and not _is_best(checkpoint, metrics):
        metrics = None  # the run's scores are its best model's, not this checkpoint's
    overrides_file = run / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.is_file() else []
    with atomic_directory(out) as tmp:
        if checkpoint is None:
            for file in (run / "best_model").iterdir():
                if file.is_file():
                    shutil.copy2(file, tmp / file.name)
        else:
            save_checkpoint_model(checkpoint, config, tmp)
        decoding_settings(config).write(tmp)
        unscored = str(checkpoint) if checkpoint is not None and metrics is None else None
        card = model_card(config, metrics, name=out.name, overrides=overrides, unscored=unscored)
        (tmp / "README.md").write_text(card)
        if onnx or quantize:
            write_onnx(tmp, quantize=quantize)
    return out


def _is_best(checkpoint: Path, metrics: dict | None) -> bool:
    best = (metrics or {}).get("best_checkpoint")
    return bool(best) and Path(best).resolve() == checkpoint.resolve()


def write_onnx(folder: Path, *, quantize: bool) -> None:
    """The saved model (with its own head, if any) as ``folder/onnx/`` graphs."""
    from qa_lightning.inference.answerer import with_saved_head
    from qa_lightning.inference.onnx_export import export_onnx
    from qa_lightning.models.loading import load_qa_model, load_tokenizer

    model = with_saved_head(load_qa_model(str(folder)), folder)
    differences = export_onnx(model, load_tokenizer(str(folder)), folder, quantize=quantize)
    for name, difference in differences.items():
        log.info("onnx/%s: largest logit difference from torch %.2g", name, difference)


def push_to_hub(folder: Path, repo: str, *, private: bool) -> str:
    """Upload ``folder`` to the Hub repo ``repo``; one line when the Hub cannot be reached."""
    from huggingface_hub import HfApi

    try:
        api = HfApi()
        api.create_repo(repo, private=private, exist_ok=True)
        return api.upload_folder(folder_path=str(folder), repo_id=repo).commit_url
    except Exception as err:  # network, auth or Hub errors alike: the folder stays
        first = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise HubUploadError(
            f"push_to_hub={repo}: the upload failed ({type(err).__name__}: {first}); the "
            f"folder is written at {folder}: upload it later with `hf upload {repo} {folder}`"
        ) from err


def export(cfg: DictConfig) -> str:
    if OmegaConf.is_missing(cfg, "run"):
        raise ConfigError(
            "run is required: python export.py run=<train.py run folder, or a .ckpt in one>"
        )
    run = run_folder(cfg.run)
    checkpoint = Path(cfg.run) if Path(cfg.run).is_file() else None
    out = Path(cfg.out) if cfg.out else run / "export"
    write_export(run, out, checkpoint=checkpoint, onnx=cfg.onnx, quantize=cfg.quantize)
    graphs = ", onnx/" if cfg.onnx or cfg.quantize else ""
    log.info(
        "Exported %s to %s (model, tokenizer, qa_decoding.json, README.md%s)", run, out, graphs
    )
    if cfg.push_to_hub:
        url = push_to_hub(out, cfg.push_to_hub, private=cfg.private)
        log.info("Uploaded to %s", url)
    return str(out)
