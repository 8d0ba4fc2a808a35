"""The ``lmbridge`` command line, on top of the :class:`~lmbridge.Bridge`.

:mod:`.parser` holds the grammar, :mod:`.app` runs one command and turns errors into exit
statuses, :mod:`.output` writes tables, progress and JSON; the commands live in :mod:`.doctor`,
:mod:`.models` (``models``, ``ps``, ``load``, ``unload``) and :mod:`.chat`.
"""

from lmbridge.cli.app import main

__all__ = ["main"]
