"""Install the course's Jupyter setup into the running Python environment (a venv, or Binder's conda env).

1. The kernel `python3` (the name the lessons' metadata gives, so they still open unchanged on Colab and Binder),
   started by kernel_launcher.py: Keras runs on JAX unless KERAS_BACKEND is set, even when `import keras` comes first.
2. JupyterLab settings overrides: Markdown opens rendered, no news or update pop-ups.
3. A Jupyter server config: terminals (and `!commands`) find this environment's commands, `embedlib` among them.

Run with the environment's Python: `.venv/bin/python scripts/jupyter/install.py`. Safe to run again: what is
already installed and current is left untouched, so two runs at once (CI's two test shards) do not step on each
other.
"""

import filecmp
import json
import shutil
import sys
from pathlib import Path

from ipykernel.kernelspec import install

HERE = Path(__file__).resolve().parent


def copy_if_changed(source: Path, target: Path) -> None:
    if not (target.is_file() and filecmp.cmp(source, target, shallow=False)):
        shutil.copy(source, target)


def install_kernel() -> Path:
    argv = [sys.executable, "{resource_dir}/kernel_launcher.py", "-f", "{connection_file}"]
    current = Path(sys.prefix) / "share" / "jupyter" / "kernels" / "python3"
    spec_file, launcher = current / "kernel.json", current / "kernel_launcher.py"
    if spec_file.is_file() and launcher.is_file() and filecmp.cmp(HERE / "kernel_launcher.py", launcher, shallow=False):
        if json.loads(spec_file.read_text()).get("argv") == argv:
            return current
    kernel_dir = Path(install(prefix=sys.prefix, kernel_name="python3", display_name="Python 3 (ipykernel)"))
    shutil.copy(HERE / "kernel_launcher.py", kernel_dir / "kernel_launcher.py")
    spec_path = kernel_dir / "kernel.json"
    spec = json.loads(spec_path.read_text())
    spec["argv"] = argv
    spec_path.write_text(json.dumps(spec, indent=1) + "\n")
    return kernel_dir


def install_settings() -> Path:
    settings = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    copy_if_changed(HERE / "overrides.json", settings / "overrides.json")
    return settings / "overrides.json"


def install_server_config() -> Path:
    config = Path(sys.prefix) / "etc" / "jupyter"
    config.mkdir(parents=True, exist_ok=True)
    copy_if_changed(HERE / "jupyter_server_config.py", config / "jupyter_server_config.py")
    return config / "jupyter_server_config.py"


if __name__ == "__main__":
    print(f"==> kernel python3 (Keras on JAX unless KERAS_BACKEND is set): {install_kernel()}")
    print(f"==> JupyterLab settings (Markdown rendered, no news pop-up): {install_settings()}")
    print(f"==> Jupyter server config (terminals find embedlib): {install_server_config()}")
