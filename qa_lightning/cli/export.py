"""export.py: a run's best model (or a checkpoint) as one folder anyone can load, with its
model card."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from qa_lightning.errors import ConfigError, UserError
from qa_lightning.storage.atomic import atomic_directory
from qa_lightning.storage.decoding_file import DecodingSettings
from qa_lightning.tracking.model_card import model_card

log = logging.getLogger(__name__)

# Written into every export: the proof that a folder is one export.py may replace
EXPORT_MARKER = "qa_export.json"


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


def check_out(out: Path, run: Path, *, overwrite: bool) -> None:
    """Refuse an ``out=`` whose replacement would delete what export.py did not write: the
    run folder or a folder above it, a place inside one of the run's own folders, an
    existing file or folder that is not an export, or an earlier export without
    ``overwrite=true``. The default, ``<run>/export``, is a new folder of the run's own."""
    target, run_dir = out.resolve(), run.resolve()
    if target == run_dir or target in run_dir.parents:
        raise ConfigError(
            f"out={out} is the run folder {run} or a folder above it, which the export would "
            "replace; give a new folder (default: <run folder>/export)"
        )
    if run_dir in target.parents and target.parent != run_dir:
        raise ConfigError(
            f"out={out} is inside {target.parent} of the run folder {run}; give a new folder "
            "directly in the run folder (default: <run folder>/export) or outside it"
        )
    if out.is_symlink() or (target.exists() and not (target / EXPORT_MARKER).is_file()):
        raise ConfigError(
            f"out={out} exists and is not an export.py folder (no {EXPORT_MARKER}); the export "
            "replaces its folder whole, so give a new folder"
        )
    if target.exists() and not overwrite:
        raise ConfigError(
            f"out={out} holds an earlier export; give overwrite=true to replace it, or a new folder"
        )


def check_trust(run: Path, checkpoint: Path | None, *, trusted: bool) -> None:
    """Custom code runs only when the user says so on export.py's command line; what the
    run's own ``config.yaml`` says is not asked (the folder may come from anyone). A
    checkpoint's model is loaded with the user's word, and transformers refuses its code;
    ``best_model/`` is copied, so its config is read here."""
    config = run / "best_model" / "config.json"
    if trusted or checkpoint is not None or not json.loads(config.read_text()).get("auto_map"):
        return
    raise ConfigError(
        f"run={run}: {config} names custom code (auto_map), which export.py copies and runs "
        "only with model.trust_remote_code=true on its command line; give that only if you "
        "trust that code"
    )


def save_checkpoint_model(
    checkpoint_path: Path, config: dict, folder: Path, *, trusted: bool
) -> None:
    """The checkpoint's model (and head) and tokenizer as ``save_pretrained`` writes them;
    ``trusted``: the user's ``model.trust_remote_code``, never the run's."""
    from qa_lightning.cli.common import load_module
    from qa_lightning.data.datamodule import tokenizer_from_checkpoint
    from qa_lightning.models.loading import load_tokenizer
    from qa_lightning.models.safe_checkpoint import read_checkpoint

    checkpoint = read_checkpoint(checkpoint_path, key="run")
    module = load_module(
        OmegaConf.create({"model": {"trust_remote_code": trusted}}),
        str(checkpoint_path),
        checkpoint,
    )
    module.save_pretrained(folder)
    tokenizer = tokenizer_from_checkpoint(checkpoint) or load_tokenizer(
        config["model"].get("tokenizer") or config["model"]["name_or_path"],
        trust_remote_code=trusted,
    )
    tokenizer.save_pretrained(folder)


def decoding_settings(config: dict) -> DecodingSettings:
    """The windows, decoding and precision the run was scored with (and the dtype of the
    encoder cache its head was scored from)."""
    from qa_lightning.data.encoder_states import STATES_DTYPE

    data, model = config["data"], config["model"]
    cached = model.get("head") and model.get("freeze") == "all" and model.get("encoder_cache")
    return DecodingSettings(
        max_length=data["max_length"],
        doc_stride=data["doc_stride"],
        max_question_tokens=data.get("max_question_tokens"),
        n_best_size=data["n_best_size"],
        max_answer_length=data["max_answer_length"],
        version_2=bool(data["version_2"]),
        null_score_diff_threshold=float(data["null_score_diff_threshold"]),
        precision=str(config["trainer"]["precision"]),  # resolved: never "auto" in config.yaml
        encoder_states=STATES_DTYPE if cached else None,
        batch_size=data["eval_batch_size"],
    )


def write_export(
    run: Path,
    out: Path,
    *,
    checkpoint: Path | None = None,
    onnx: bool = False,
    quantize: str = "none",
    calibration_windows: int = 256,
    trusted: bool = False,
) -> Path:
    """The model (``best_model/``, or ``checkpoint`` of the run) with its tokenizer and any
    head files, the decoding settings, the card, the export marker and, with
    ``onnx``/``quantize``, the ONNX graphs, written to a temporary folder and renamed into
    place. ``trusted``: the user allowed the model's custom code."""
    from qa_lightning.models.lora import ADAPTER_FOLDER

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
                elif file.name == ADAPTER_FOLDER:  # a LoRA run's adapter alone, as saved
                    shutil.copytree(file, tmp / file.name)
        else:
            save_checkpoint_model(checkpoint, config, tmp, trusted=trusted)
        decoding_settings(config).write(tmp)
        int8 = None
        if onnx or quantize != "none":
            calibration = None
            if quantize == "static":
                calibration = run_calibration(config, tmp, calibration_windows)
            int8 = write_onnx(tmp, quantize=quantize, calibration=calibration, trusted=trusted)
        unscored = str(checkpoint) if checkpoint is not None and metrics is None else None
        card = model_card(
            config, metrics, name=out.name, overrides=overrides, unscored=unscored, int8=int8
        )
        (tmp / "README.md").write_text(card)
        marker = {"run": str(run), "checkpoint": str(checkpoint) if checkpoint else None}
        (tmp / EXPORT_MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    return out


def _is_best(checkpoint: Path, metrics: dict | None) -> bool:
    best = (metrics or {}).get("best_checkpoint")
    return bool(best) and Path(best).resolve() == checkpoint.resolve()


def write_onnx(
    folder: Path, *, quantize: str, calibration: Any = None, trusted: bool = False
) -> dict[str, Any] | None:
    """The saved model (with its own head, if any) as ``folder/onnx/`` graphs; the int8
    graph's record (``onnx/quantization.json``), if one was written."""
    from qa_lightning.inference.answerer import with_saved_head
    from qa_lightning.inference.onnx_export import export_onnx
    from qa_lightning.models.loading import load_qa_model, load_tokenizer

    model = with_saved_head(load_qa_model(str(folder), trust_remote_code=trusted), folder)
    tokenizer = load_tokenizer(str(folder), trust_remote_code=trusted)
    differences, record = export_onnx(
        model, tokenizer, folder, quantize=quantize, calibration=calibration
    )
    for name, difference in differences.items():
        log.info("onnx/%s: largest logit difference from torch %.2g", name, difference)
    return asdict(record) if record is not None else None


def run_calibration(config: dict, folder: Path, windows: int) -> Any:
    """Static int8's calibration: a sample (seeded by the run's seed) of the run's own
    training windows, made as training made them (the feature cache usually has them)."""
    from qa_lightning.cli.common import make_datamodule
    from qa_lightning.inference.onnx_export import Calibration
    from qa_lightning.inference.static_int8 import calibration_windows
    from qa_lightning.models.loading import load_tokenizer

    cfg = OmegaConf.create(config)
    data = cfg.data
    where = data.get("train_file") or data.get("hub_name") or data.source
    try:
        datamodule = make_datamodule(cfg, load_tokenizer(str(folder)))
        datamodule.prepare_data()
        datamodule.setup("fit")
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"quantize=static calibrates on the run's training windows ({where}), which "
            f"could not be read: {str(err).splitlines()[0]}; export where the run's data "
            "is, or use quantize=dynamic"
        ) from err
    names = datamodule.model_inputs
    sample = calibration_windows(
        datamodule.train_features, names, windows=windows, seed=int(cfg.seed)
    )
    source = {"data": str(where), "split": "train", "seed": int(cfg.seed)}
    return Calibration(sample, int(data.max_length), source)


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


# quantize=true: the int8 that measured best here (benchmarks/README.md, bench_onnx)
BEST_INT8 = "dynamic"


def quantize_choice(value: object) -> str:
    """``quantize=``: none (or false), dynamic, static, or true (:data:`BEST_INT8`)."""
    choice = str(value).lower()
    choice = {"false": "none", "true": BEST_INT8}.get(choice, choice)
    if choice not in ("none", "dynamic", "static"):
        raise ConfigError(
            f"quantize={value}: give none, dynamic (int8 scaled per input, run window by "
            "window), static (int8 calibrated on training windows, run batched) or true "
            f"(the best measured: {BEST_INT8})"
        )
    return choice


def export(cfg: DictConfig) -> str:
    if OmegaConf.is_missing(cfg, "run"):
        raise ConfigError(
            "run is required: python export.py run=<train.py run folder, or a .ckpt in one>"
        )
    run = run_folder(cfg.run)
    checkpoint = Path(cfg.run) if Path(cfg.run).is_file() else None
    out = Path(cfg.out) if cfg.out else run / "export"
    check_out(out, run, overwrite=cfg.overwrite)
    trusted = cfg.model.trust_remote_code
    check_trust(run, checkpoint, trusted=trusted)
    quantize = quantize_choice(cfg.quantize)
    write_export(
        run,
        out,
        checkpoint=checkpoint,
        onnx=cfg.onnx,
        quantize=quantize,
        calibration_windows=cfg.calibration_windows,
        trusted=trusted,
    )
    graphs = ", onnx/" if cfg.onnx or quantize != "none" else ""
    log.info(
        "Exported %s to %s (model, tokenizer, qa_decoding.json, README.md%s)", run, out, graphs
    )
    if cfg.push_to_hub:
        url = push_to_hub(out, cfg.push_to_hub, private=cfg.private)
        log.info("Uploaded to %s", url)
    return str(out)
