"""``python -m embedlib``: the ``embedlib`` command, for shells where the virtual environment is not on PATH."""

import sys

from embedlib.cli import main

sys.exit(main())
