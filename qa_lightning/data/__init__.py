"""Data: readers of the HF "squad" schema, checked records, windowed features, the datamodule."""

from qa_lightning.data.mrqa import MrqaReader
from qa_lightning.data.readers import (
    FlatFileReader,
    HubReader,
    Reader,
    SquadJsonReader,
    SyntheticReader,
)
from qa_lightning.data.sources import load_hub_squad, read_flat_file, read_squad_json
from qa_lightning.data.synthetic import make_synthetic_squad
from qa_lightning.data.validation import DataValidationError, validate_examples

__all__ = [
    "DataValidationError",
    "FlatFileReader",
    "HubReader",
    "MrqaReader",
    "Reader",
    "SquadJsonReader",
    "SyntheticReader",
    "load_hub_squad",
    "make_synthetic_squad",
    "read_flat_file",
    "read_squad_json",
    "validate_examples",
]
