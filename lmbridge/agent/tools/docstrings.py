"""Reading a tool's description and its parameters' descriptions from a docstring.

Google style (``Args:`` sections, the house style) and Sphinx ``:param name:`` fields are read.
"""

from __future__ import annotations

import re

__all__ = ["parse_docstring"]

_SECTION = re.compile(
    r"^(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments|Returns|Return|Yields|"
    r"Raises|Examples?|Notes?|Attributes|Warnings?|See Also|Todo)\s*:\s*$"
)
_ARG_SECTIONS = {"Args", "Arguments", "Parameters", "Params", "Keyword Args", "Keyword Arguments"}
_ARG_LINE = re.compile(r"^\**(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SPHINX_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a cleaned docstring (``inspect.getdoc``) into a description and parameter descriptions.

    Returns:
        ``(description, {parameter: description})``. The description is the text before the first
        section (``Args:``, ``Returns:``, ...) or Sphinx field.
    """
    description: list[str] = []
    params: dict[str, str] = {}
    started_fields = False
    in_args = False
    section_indent = 0
    arg_indent: int | None = None
    current: str | None = None
    for line in (doc or "").splitlines():
        stripped, indent = line.strip(), _indent(line)
        header = _SECTION.match(stripped)
        sphinx = _SPHINX_PARAM.match(stripped)
        if header or sphinx:
            started_fields = True
            in_args = bool(header and header.group(1) in _ARG_SECTIONS)
            section_indent, arg_indent, current = indent, None, None
            if sphinx:
                current = sphinx.group(1)
                params[current] = sphinx.group(2).strip()
            continue
        if not started_fields:
            description.append(line)
        elif not stripped:
            continue
        elif in_args and indent > section_indent:
            argument = _ARG_LINE.match(stripped)
            if argument and (arg_indent is None or indent <= arg_indent):
                arg_indent, current = indent, argument.group(1)
                params[current] = argument.group(2).strip()
            elif current is not None:
                params[current] = f"{params[current]} {stripped}".strip()
        elif current is not None and not in_args and indent > section_indent:
            params[current] = f"{params[current]} {stripped}".strip()  # a :param continuation
        else:
            in_args, current = False, None
    return "\n".join(description).strip(), params
