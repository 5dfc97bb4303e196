"""Where embedlib runs: its environment variables, the Keras backend, JAX's compile cache, the machine, safe writes.

Everything here is about the process rather than the course: which ``EMBEDLIB_*`` variables exist and what they
mean (``VARIABLES``, the one list the README's table is checked against), which Keras backend the lessons get,
where downloads and compiled code are kept, what a measurement was made on, and how files are written so that a
crash or a concurrent writer never leaves half a file behind.

Keras reads its backend once, on first import, from ``KERAS_BACKEND`` or else ``~/.keras/keras.json`` (which Keras
itself writes with ``"tensorflow"`` the first time). ``import embedlib`` therefore sets the variable only when it is
unset and Keras is not loaded yet (``choose_backend``). When Keras came first, embedlib keeps its backend if it can
train the course's models and otherwise stops with an error that says how to fix it.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from pathlib import Path

__all__ = [
    "COMPILE_CACHE_MAX_BYTES",
    "DEFAULT_BACKEND",
    "TRAINING_BACKENDS",
    "VARIABLES",
    "BackendError",
    "cache_dir",
    "choose_backend",
    "compile_cache_folder",
    "describe_machine",
    "enable_compile_cache",
    "env_flag",
    "write_atomic",
]

VARIABLES = {
    "EMBEDLIB_DATA": "a folder holding the MovieLens folders (e.g. `ml-latest-small/`) as GroupLens ships them; "
    "read instead of downloading",
    "EMBEDLIB_CACHE": "where downloads and compiled code are kept (default: your user cache folder, "
    "e.g. `~/.cache/embedlib`)",
    "EMBEDLIB_STRICT": "`1`: stop with an error when the real data cannot be had, instead of using synthetic data",
    "EMBEDLIB_COMPILE_CACHE": "`0`: do not keep JAX's compiled code on disk",
    "EMBEDLIB_LESSONS": "the folder `embedlib run` and `embedlib sweep` look for lessons in (default: `./lessons`, "
    "else `.`)",
    "EMBEDLIB_CONSTRAINTS": "a pip constraints file `scripts/setup.sh` installs with (CI: `binder/requirements.txt`)",
    "EMBEDLIB_SWEEP_RUN": "set by `embedlib sweep` in the kernel of each run it starts (a swept lesson may not "
    "sweep again); not for you to set",
    "EMBEDLIB_SET_JAX": "set by `import embedlib`: the `JAX_*` variables it wrote, which processes it starts drop and "
    "decide for themselves; not for you to set",
    "EMBEDLIB_TEST_ARTIFACTS": "tests: where the browser test saves its screenshots",
    "EMBEDLIB_BROWSER_LESSONS": "tests: the lessons the browser test runs in JupyterLab (`2,7` by default, `all`)",
    "EMBEDLIB_TF_LESSONS": "tests: `all` runs every lesson on TensorFlow (by default lessons 5, 6 and 7)",
}
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}

DEFAULT_BACKEND = "jax"
TRAINING_BACKENDS = ("jax", "tensorflow", "torch")  # Keras's numpy and openvino backends cannot train
HOW_TO_FIX = (
    "Restart the kernel, then either import embedlib before keras, or set the backend before importing keras "
    "(`%env KERAS_BACKEND=jax` in a notebook, `export KERAS_BACKEND=jax` in a shell). The course's kernel, "
    "installed by `bash scripts/setup.sh`, sets it for you."
)
# A size limit is what makes JAX lock its cache (filelock): without one, a kernel can read an entry another is still
# writing. The whole course compiles well under 100 MB; the least recently used entries go first past the limit.
COMPILE_CACHE_MAX_BYTES = 1 << 30
SET_BY_EMBEDLIB = "EMBEDLIB_SET_JAX"


def env_flag(name: str, *, default: bool = False) -> bool:
    """Whether the environment variable ``name`` says yes (1, true, yes, on) or no (0, false, no, off); ``default``
    when it is unset or empty. Any other value is a ValueError that names the variable and the words it takes."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in TRUE_WORDS | FALSE_WORDS:
        words = ", ".join(sorted(TRUE_WORDS | FALSE_WORDS))
        raise ValueError(f"{name}={os.environ[name]!r} is neither yes nor no: set it to one of {words}.")
    return value in TRUE_WORDS


class BackendError(ImportError):
    """Keras is loaded with a backend the course's models cannot train on."""


def choose_backend() -> str:
    """Default Keras to JAX if nothing chose a backend yet; return the backend Keras uses or will use."""
    config = sys.modules.get("keras.src.backend.config")  # present once `import keras` has succeeded
    if config is None:
        if not os.environ.get("KERAS_BACKEND", "").strip():  # Keras takes an empty value as unset, too
            os.environ["KERAS_BACKEND"] = DEFAULT_BACKEND
        return os.environ["KERAS_BACKEND"]
    backend = config.backend()
    if backend not in TRAINING_BACKENDS:
        raise BackendError(
            f"Keras was imported before embedlib and runs on the {backend!r} backend, which cannot train models "
            f"(set by KERAS_BACKEND or ~/.keras/keras.json). {HOW_TO_FIX}"
        )
    # Runs started from this kernel (a sweep, the runner's records) must use, and report, the same backend.
    os.environ.setdefault("KERAS_BACKEND", backend)
    return backend


def cache_dir() -> Path:
    """The folder downloads and compiled code are kept in: ``EMBEDLIB_CACHE``, else the user's cache folder."""
    if os.environ.get("EMBEDLIB_CACHE"):
        return Path(os.environ["EMBEDLIB_CACHE"]).expanduser().absolute()
    import platformdirs  # the folder pooch.os_cache("embedlib") names, without importing pooch and requests

    return Path(platformdirs.user_cache_dir("embedlib"))


def compile_cache_folder() -> Path:
    """Where JAX's compiled code is kept: a folder inside ``cache_dir()``."""
    # Not "jax-compilation-cache", which earlier versions filled without a size limit: JAX's eviction needs the
    # access-time file it writes beside each entry only when a limit is set, and fails on entries without one.
    return cache_dir() / "jax-compiled"


def enable_compile_cache(folder: str | os.PathLike | None = None) -> Path | None:
    """Keep JAX's compiled code on disk in ``folder`` (default ``compile_cache_folder()``); return the folder used.

    Keras on JAX compiles a training, an evaluation and a prediction step per model and batch shape, and a lesson
    pays for several of them again on every run; JAX by default stores only compiles that took over a second, which
    leaves out most of Keras's, so this stores every one. A folder the user gave JAX (``JAX_COMPILATION_CACHE_DIR``)
    wins over ours. Writes and reads are locked (see ``COMPILE_CACHE_MAX_BYTES``); an entry that cannot be loaded
    costs a recompile and a warning, not an error. Returns None when ``EMBEDLIB_COMPILE_CACHE`` is off or Keras does
    not run on JAX.

    JAX is not imported here: if it is not loaded yet, the settings go into the ``JAX_*`` environment variables it
    reads when it is (so ``import embedlib`` stays quick), leaving alone any the user set; if it is, into
    ``jax.config``. ``EMBEDLIB_SET_JAX`` lists the variables written here, so that a process started from this one
    (a lesson's kernel, a sweep's run) drops them and decides for itself, with its own ``EMBEDLIB_*`` settings.
    """
    jax = sys.modules.get("jax")
    if jax is None:
        for name in filter(None, os.environ.pop(SET_BY_EMBEDLIB, "").split(",")):
            os.environ.pop(name, None)
    if not env_flag("EMBEDLIB_COMPILE_CACHE", default=True) or os.environ.get("KERAS_BACKEND", "jax") != "jax":
        return None
    if folder is None:
        given = jax.config.jax_compilation_cache_dir if jax else os.environ.get("JAX_COMPILATION_CACHE_DIR")
        folder = given or compile_cache_folder()
    settings = {
        "jax_compilation_cache_dir": str(folder),
        "jax_persistent_cache_min_compile_time_secs": 0.0,
        "jax_persistent_cache_min_entry_size_bytes": -1,  # -1: no size threshold
        "jax_compilation_cache_max_size": COMPILE_CACHE_MAX_BYTES,
        "jax_raise_persistent_cache_errors": False,
    }
    written = []
    for name, value in settings.items():
        if jax is not None:
            jax.config.update(name, value)
        elif name.upper() not in os.environ:
            os.environ[name.upper()] = str(value)
            written.append(name.upper())
    if written:
        os.environ[SET_BY_EMBEDLIB] = ",".join(written)
    return Path(folder)


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def describe_machine() -> dict:
    """What a number was measured on: Python, OS, cores, processor, Keras and its backend (with the backend's version)."""
    backend = os.environ.get("KERAS_BACKEND", DEFAULT_BACKEND)
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, content: str | bytes) -> Path:
    """Write ``content`` to a temporary file beside ``path``, then move it into place in one step; return ``path``.

    Readers see the old file or the new one, never a mix; two writers at once leave one whole file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
