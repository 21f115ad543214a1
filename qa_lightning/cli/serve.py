"""serve.py: load a saved (or exported) QA model once and answer POST /predict over HTTP."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from qa_lightning.config import BACKENDS, choice
from qa_lightning.errors import ConfigError

log = logging.getLogger(__name__)


def check_serve_config(cfg: DictConfig) -> None:
    """The rules the schema's types cannot express, before the model is loaded; a failure
    is one :class:`ConfigError` naming the key and what is accepted."""
    if OmegaConf.is_missing(cfg, "model_dir"):
        raise ConfigError(
            "model_dir is required: python serve.py model_dir=<saved or exported folder>"
        )
    choice(BACKENDS, cfg.backend, "backend")
    if not 0 <= cfg.port <= 65535:
        raise ConfigError(f"port={cfg.port} is out of range; use 0..65535 (0: any free port)")
    for key in ("max_batch_size", "max_items", "max_request_bytes", "max_windows_per_item"):
        if cfg[key] < 1:
            raise ConfigError(f"{key}={cfg[key]} must be a positive integer")
    if not (math.isfinite(cfg.body_timeout_s) and cfg.body_timeout_s > 0):
        raise ConfigError(
            f"body_timeout_s={cfg.body_timeout_s} must be a positive number of seconds"
        )
    if not (math.isfinite(cfg.max_wait_ms) and cfg.max_wait_ms >= 0):
        raise ConfigError(f"max_wait_ms={cfg.max_wait_ms} must be a number >= 0 (0: no waiting)")
    if cfg.threads is not None and cfg.threads < 1:
        raise ConfigError(f"threads={cfg.threads} must be a positive integer, or null")
    if not Path(cfg.model_dir).is_dir():
        raise ConfigError(
            f"model_dir={cfg.model_dir}: no such folder; give an export.py folder or a saved QA model "
            "directory"
        )


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def build_service(cfg: DictConfig) -> tuple[Any, Any]:
    """(the app, its answerer): the folder ``cfg.model_dir`` loaded once, as serve() serves
    it (its head rebuilt from ``qa_head.json``, from a package the user imported)."""
    check_serve_config(cfg)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from qa_lightning.inference import Answerer
    from qa_lightning.serving.app import make_app

    answerer = Answerer.from_folder(
        cfg.model_dir,
        backend=cfg.backend,
        quantized=cfg.quantized,
        threads=cfg.threads,
        trust_remote_code=cfg.model.trust_remote_code,
    )
    app = make_app(
        answerer,
        batching=cfg.batching,
        max_batch_size=cfg.max_batch_size,
        max_wait_ms=cfg.max_wait_ms,
        max_request_bytes=cfg.max_request_bytes,
        max_items=cfg.max_items,
        max_windows_per_item=cfg.max_windows_per_item,
        body_timeout_s=cfg.body_timeout_s,
    )
    return app, answerer


def serve(cfg: DictConfig) -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM: open requests finish first)."""
    app, answerer = build_service(cfg)
    import uvicorn

    if cfg.batching:
        mode = f"batching on: up to {cfg.max_batch_size} windows, {cfg.max_wait_ms:g} ms"
    else:
        mode = f"batching off: one request at a time, {cfg.max_batch_size} questions per batch"
    log.info("Serving %s on %s (%s)", answerer.name, _url(cfg.host, cfg.port), mode)
    uvicorn.Server(uvicorn.Config(app, host=cfg.host, port=cfg.port, log_level="info")).run()
