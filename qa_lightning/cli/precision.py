"""``trainer.precision=auto``: the fastest precision the hardware computes natively.

Lightning has no such setting, so the entry points resolve it before anything records the
config: ``config.yaml``, the loggers and a relaunched sweep all see the precision the run
used. On a CPU, bf16 autocast pays only where the CPU multiplies bf16 natively (x86
AVX512-BF16 or AMX, Arm's BF16 extension); elsewhere it is emulated and slower than fp32.
"""

from __future__ import annotations

import logging
import platform
from pathlib import Path

import torch
from omegaconf import DictConfig
from pytorch_lightning.utilities import rank_zero_only

log = logging.getLogger(__name__)

AUTO = "auto"


def cpu_bf16_instructions() -> str | None:
    """The name of this CPU's native bf16 instructions, or None when it has none."""
    cpu = torch.cpu
    for name, probe in (
        ("AMX", "_is_amx_tile_supported"),
        ("AVX512-BF16", "_is_avx512_bf16_supported"),
    ):
        check = getattr(cpu, probe, None)  # private probes: absent from some torch builds
        if check is not None and check():
            return name
    if platform.system() == "Linux" and platform.machine() in ("aarch64", "arm64"):
        try:
            flags = Path("/proc/cpuinfo").read_text()
        except OSError:
            return None
        if any(line.startswith("Features") and " bf16" in line for line in flags.splitlines()):
            return "Arm BF16"
    return None


def _uses_cuda(accelerator: str) -> bool:
    return accelerator in ("gpu", "cuda") or (accelerator == AUTO and torch.cuda.is_available())


def auto_precision(accelerator: str) -> tuple[str, str]:
    """(precision, why) for ``trainer.precision=auto`` on ``trainer.accelerator``."""
    if _uses_cuda(accelerator):
        if not torch.cuda.is_available():  # "gpu" is also Apple's MPS to Lightning
            return "32-true", "no CUDA GPU visible"
        if torch.cuda.is_bf16_supported():
            return "bf16-mixed", f"{torch.cuda.get_device_name()} computes bf16"
        return "16-mixed", "this GPU has no bf16: fp16 autocast with loss scaling"
    if accelerator in ("cpu", AUTO):
        instructions = cpu_bf16_instructions()
        if instructions:
            return "bf16-mixed", f"this CPU has native bf16 ({instructions})"
        return "32-true", "this CPU has no native bf16 instructions"
    return "32-true", f"no automatic choice for accelerator {accelerator!r}"


def resolve_precision(cfg: DictConfig) -> None:
    """Replace ``trainer.precision=auto`` in ``cfg`` by what this machine runs, logged once."""
    trainer = cfg.get("trainer")
    if trainer is None or str(trainer.get("precision")) != AUTO:
        return
    if cfg.get("backend", "torch") == "onnx":
        precision, why = "32-true", "backend=onnx: the graph's own fp32 or int8, no autocast"
    else:
        precision, why = auto_precision(str(trainer.get("accelerator", AUTO)))
    trainer.precision = precision
    if rank_zero_only.rank == 0:  # DDP runs the entry point once per rank
        log.info(
            "trainer.precision=auto: %s (%s; trainer.precision=32-true for fp32)", precision, why
        )
