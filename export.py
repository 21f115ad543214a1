"""Export a run's best model with its card: ``python export.py run=<run folder>``."""

import hydra
from omegaconf import DictConfig

from qa_lightning.cli.task import report_user_errors
from qa_lightning.config import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
@report_user_errors
def main(cfg: DictConfig) -> str:
    from qa_lightning.cli.export import export

    return export(cfg)


if __name__ == "__main__":
    main()
