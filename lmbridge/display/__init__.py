"""How results look in a terminal and a notebook: HTML tables and load progress.

The bottom of the stack beside ``errors``: it imports nothing of the library, so the results of
every layer (``chat``, ``lifecycle``, ``agent``) can render themselves with it.
"""
