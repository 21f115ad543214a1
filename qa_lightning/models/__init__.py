"""Models: the QA LightningModule and model/tokenizer loading (Hub, directory, bundled)."""
