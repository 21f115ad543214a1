"""Score a checkpoint or saved model: ``python eval.py ckpt_path=... data=squad_v2``."""

import hydra
from omegaconf import DictConfig

from qa_lightning.cli.task import report_user_errors
from qa_lightning.config import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
@report_user_errors
def main(cfg: DictConfig) -> dict:
    from qa_lightning.cli.evaluate import evaluate

    return evaluate(cfg)


if __name__ == "__main__":
    main()
