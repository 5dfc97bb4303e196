"""JAX's persistent compilation cache, in embedlib's cache folder: a second run loads its compiled code from disk.

Keras on JAX compiles a training step, an evaluation step and a prediction step per model and batch shape; each
takes a fraction of a second to a few seconds on a laptop, and a lesson pays for several of them again on every run.
JAX can keep compiled executables on disk, but by default stores only compiles that took over a second, which
leaves out most of Keras's. ``enable`` turns the cache on with no time or size threshold.

- The folder is ``<embedlib cache>/jax-compilation-cache`` (``EMBEDLIB_CACHE`` moves it, as it moves the data).
- ``EMBEDLIB_COMPILE_CACHE=0`` turns it off; a folder the user gave JAX (``JAX_COMPILATION_CACHE_DIR``) is used
  instead of embedlib's.
- An entry that cannot be loaded — damaged, or refused by the CPU loader, as happens on some Intel CPUs
  (jax-ml/jax#38445) — costs a recompile, not an error: JAX then warns and compiles, which embedlib keeps quiet.

``import embedlib`` calls ``enable()`` when Keras runs on JAX. Other backends are left alone.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from embedlib.data import cache_dir

__all__ = ["ENV_SWITCH", "cache_folder", "enable"]

ENV_SWITCH = "EMBEDLIB_COMPILE_CACHE"
OFF_WORDS = {"0", "false", "no", "off"}


def cache_folder() -> Path:
    """Where compiled code is kept: a folder inside embedlib's cache."""
    return cache_dir() / "jax-compilation-cache"


def enable(folder: str | os.PathLike | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache in ``folder`` (default ``cache_folder()``); return the folder used.

    Returns None, changing nothing, when ``EMBEDLIB_COMPILE_CACHE`` is off or Keras does not run on JAX.
    """
    if os.environ.get(ENV_SWITCH, "1").strip().lower() in OFF_WORDS:
        return None
    if os.environ.get("KERAS_BACKEND", "jax") != "jax":
        return None
    import jax

    if folder is None:  # a folder the user gave JAX (JAX_COMPILATION_CACHE_DIR) wins over ours
        folder = jax.config.jax_compilation_cache_dir or cache_folder()
    folder = Path(folder)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)  # -1: no size threshold
    jax.config.update("jax_raise_persistent_cache_errors", False)  # an unreadable entry means: compile again
    warnings.filterwarnings("ignore", message="Error reading persistent compilation cache entry")
    return folder
