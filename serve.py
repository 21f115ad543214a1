"""Answer questions over HTTP: ``python serve.py model=<folder>``, then POST /predict."""

import hydra
from omegaconf import DictConfig

from qa_lightning.cli.task import report_user_errors
from qa_lightning.config import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="serve")
@report_user_errors
def main(cfg: DictConfig) -> None:
    from qa_lightning.cli.serve import serve

    serve(cfg)


if __name__ == "__main__":
    main()
