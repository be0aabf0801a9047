"""Errors the library raises. The app maps them onto its own hierarchy at the boundary."""

from __future__ import annotations


class AnnotatorLibError(Exception):
    """Base class for every error raised by image-annotator-lib."""


class ModelNotFoundError(AnnotatorLibError):
    """No model of that name in the registry."""


class ModelLoadError(AnnotatorLibError):
    """A model could not be loaded (missing files, offline and not cached, bad ONNX)."""


class ProviderAuthenticationError(AnnotatorLibError):
    """401/403 from a provider: the whole run must stop, retrying cannot help."""


class ProviderModelNotFoundError(AnnotatorLibError):
    """404 / model-not-found: the model id does not exist (or was retired) at that provider, so
    every further request would fail the same way; the whole run stops."""


class ProviderUnavailableError(AnnotatorLibError):
    """The provider has no API key configured, so its models are hidden and refused."""


class ProviderRequestError(AnnotatorLibError):
    """A provider call outside the per-image loop failed (Batch API upload, status, download)."""
