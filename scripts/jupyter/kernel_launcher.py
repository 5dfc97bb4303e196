"""Start the IPython kernel with Keras on JAX unless KERAS_BACKEND says otherwise (the course's `python3` kernel).

Installed into the environment's `share/jupyter/kernels/python3/` by scripts/jupyter/install.py. A kernel spec's
"env" would override a KERAS_BACKEND the user set; this sets it only when it is unset, before any cell runs.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
del sys.path[0]  # this kernel folder; the kernel puts the notebook's folder on the path itself

from ipykernel import kernelapp  # noqa: E402

kernelapp.launch_new_instance()
