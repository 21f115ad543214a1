"""Errors the user can act on: bad config, bad data, a model that cannot be loaded.

Each carries a one-line message naming the key, file or record and what would be accepted.
The entry points print that line alone (no traceback) and exit non-zero
(``qa_lightning.cli.task``); everything else is a bug and keeps its traceback. Error types
only: every layer imports this module.
"""

from __future__ import annotations


class UserError(Exception):
    """Base of every error caused by the user's input rather than by our code."""


class ConfigError(UserError, ValueError):
    """A config value that type checks but makes no sense; the message names the key."""


class DataFileNotFoundError(UserError, FileNotFoundError):
    """A data file named in the config does not exist (the message names the key)."""


class TrainingDivergedError(UserError, FloatingPointError):
    """The training loss became NaN or infinite (the message names the step and the lr)."""


class ForeignRunFolderError(UserError):
    """A job's run folder holds a run of another configuration (a relaunch with other
    overrides into the same sweep folder): nothing is written into it, and a sweep stops
    rather than record a failure there."""


class TrialPruned(Exception):
    """Raised by a callback to end a sweep's trial early because it will not win (a pruner
    said so): not an error. The entry point records the run as ``pruned`` with the scores of
    its last validation, and a relaunched sweep never resumes it."""
