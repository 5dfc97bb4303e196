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

# A lesson is committed with `language_info` stripped to {"name": "python"}: no machine details. On opening,
# JupyterLab copies the kernel's full `language_info` (Python version included) into the notebook, and any change
# marks the tab modified (●) before the learner has touched it. Handing out the notebook with this environment's
# kernel `language_info` already in place makes that copy a no-op; nothing is written to disk.
from ipykernel.ipkernel import IPythonKernel  # noqa: E402
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager  # noqa: E402

COMMITTED_LANGUAGE_INFO = {"name": "python"}


class CourseContentsManager(AsyncLargeFileManager):
    """Opens a committed lesson with the course kernel's `language_info`, so it does not open as modified."""

    async def get(self, path, content=True, type=None, format=None, **kwargs):
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        if model["type"] == "notebook" and model.get("content"):
            metadata = model["content"]["metadata"]
            if metadata.get("language_info") == COMMITTED_LANGUAGE_INFO:
                metadata["language_info"] = dict(IPythonKernel.language_info)
        return model


c.ServerApp.contents_manager_class = CourseContentsManager  # noqa: F821
