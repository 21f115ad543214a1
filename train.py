"""Train a QA model: ``python train.py model=distilbert data=squad`` (see conf/train.yaml)."""

import hydra
from omegaconf import DictConfig

from qa_lightning.cli.task import report_user_errors
from qa_lightning.config import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
@report_user_errors
def main(cfg: DictConfig) -> float | None:
    from qa_lightning.cli.train import train  # imported late: --help and --cfg stay fast

    return train(cfg)


if __name__ == "__main__":
    main()
