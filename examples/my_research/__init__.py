"""A researcher's own components for qa-lightning, kept outside the framework.

Each module adds one component through a documented seam, and ``conf/`` holds the YAML
that selects it; nothing under ``qa_lightning/`` is edited. Put ``examples/`` on the Python
path and ``conf/`` on Hydra's search path:

    PYTHONPATH=examples python train.py hydra.searchpath=[file://examples/my_research/conf] \
        experiment=my_research
"""
