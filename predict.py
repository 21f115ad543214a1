"""Answer an unlabelled file: ``python predict.py ckpt_path=... data.predict_file=test.json``."""

import hydra
from omegaconf import DictConfig

from qa_lightning.cli.task import report_user_errors
from qa_lightning.config import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
@report_user_errors
def main(cfg: DictConfig) -> str:
    from qa_lightning.cli.predict import predict

    return predict(cfg)


if __name__ == "__main__":
    main()
