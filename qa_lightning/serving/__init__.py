"""The HTTP service of serve.py: FastAPI app (``app``) and dynamic batching (``batcher``)."""

from qa_lightning.serving.app import make_app

__all__ = ["make_app"]
