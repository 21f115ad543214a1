"""Names of the evaluation sets that have a fixed role (kept free of heavy imports: the
run-folder layout and the compare command use them without loading torch)."""

VALIDATION = "validation"  # the set that picks the best checkpoint (logged as val/...)
PREDICT = "predict"  # predict.py's unlabelled file


def metric_prefix(name: str) -> str:
    """``val`` for the validation set (the names sweeps and checkpoints use), else
    ``eval/<name>``."""
    return "val" if name == VALIDATION else f"eval/{name}"
