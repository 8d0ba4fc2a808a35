"""``python -m lmbridge``: the same as the ``lmbridge`` command (see ``lmbridge --help``)."""

from __future__ import annotations

import sys

from lmbridge.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
