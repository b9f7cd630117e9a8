"""Plain-text layout shared by everything that prints paragraphs to a terminal or a text
report: one wrapping, so every text output reads the same."""
from __future__ import annotations

import textwrap

WIDTH = 100


def wrap(text: str, indent: str) -> str:
    """`text` as one paragraph (its own line breaks and runs of spaces folded), every line
    starting with `indent`, none longer than WIDTH."""
    return textwrap.fill(" ".join(text.split()), width=WIDTH, initial_indent=indent, subsequent_indent=indent)
