"""Plain-text layout shared by everything that prints paragraphs to a terminal or a text
report: one wrapping, so every text output reads the same; and names from outside (file and
member names, paths) made safe to print on one line. A file name may hold a newline, which
would forge a line of output, or a terminal escape sequence, which would drive the reader's
terminal; bytes that were not UTF-8 arrive as surrogate escapes (os.fsdecode), which cannot
even be written as UTF-8."""
from __future__ import annotations

import textwrap

WIDTH = 100


def wrap(text: str, indent: str) -> str:
    """`text` as one paragraph (its own line breaks and runs of spaces folded), every line
    starting with `indent`, none longer than WIDTH."""
    return textwrap.fill(" ".join(text.split()), width=WIDTH, initial_indent=indent, subsequent_indent=indent)


def unsafe(ch: str) -> bool:
    """A character that must not be printed as it is: not printable, or a surrogate."""
    return not ch.isprintable() or 0xD800 <= ord(ch) <= 0xDFFF


def shown(name: str) -> str:
    """The name with control characters as escapes (\\n, \\x1b) and bytes that were not
    UTF-8 as \\xNN; printable text, backslashes included, is unchanged, so escaping twice
    changes nothing."""
    return "".join(ch if not unsafe(ch)
                   else f"\\x{ord(ch) - 0xDC00:02x}" if 0xDC80 <= ord(ch) <= 0xDCFF
                   else ch.encode("unicode_escape").decode("ascii")
                   for ch in name)
