"""What numbers were measured on: one description shared by run summaries and benchmarks."""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version

__all__ = ["describe_machine"]


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def describe_machine() -> dict:
    """Python, OS, cores, processor, and the Keras version and backend (with the backend's own version)."""
    backend = os.environ.get("KERAS_BACKEND", "jax")
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "keras": _version("keras"),
        "backend": backend,
        "backend_version": _version({"torch": "torch", "tensorflow": "tensorflow"}.get(backend, "jax")),
        "jax": _version("jax"),
    }
