# Installed into the environment's etc/jupyter/ by scripts/jupyter/install.py, so it applies however JupyterLab is
# started from this environment (`bash scripts/lab.sh`, `.venv/bin/jupyter lab`, Binder).
import os
import sys

# Terminals and `!commands` in notebooks find this environment's commands (embedlib, python, pip) first, as after
# `source .venv/bin/activate`.
os.environ["PATH"] = os.path.join(sys.prefix, "bin") + os.pathsep + os.environ.get("PATH", "")
# Without a terminal of its own, JupyterLab starts login shells, and /etc/profile would reset PATH: start the
# user's shell as an ordinary interactive one instead.
c.ServerApp.terminado_settings = {"shell_command": [os.environ.get("SHELL") or "/bin/sh"]}  # noqa: F821
