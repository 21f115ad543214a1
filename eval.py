"""Score a checkpoint or saved model (``python eval.py ckpt_path=... data=squad_v2``), or any
system's predictions file (``python eval.py predictions_file=preds.json data=...``)."""

import hydra
from omegaconf import DictConfig

from qa_lightning.cli.task import report_user_errors
from qa_lightning.config import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
@report_user_errors
def main(cfg: DictConfig) -> dict:
    if cfg.get("predictions_file"):  # any system's answers: no model
        from qa_lightning.cli.score_file import score_predictions_file

        return score_predictions_file(cfg)
    from qa_lightning.cli.evaluate import evaluate

    return evaluate(cfg)


if __name__ == "__main__":
    main()
