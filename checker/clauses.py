"""Clause numbers as the standards write them, ordered the way a reader expects.

Below every package that sorts by clause (catalog, engine, report, history, prescreen), so
none of them reaches into another's layer for it."""
from __future__ import annotations

import re


def clause_sort_key(clause: str):
    """9.1.10 after 9.1.9; "SM 9.1.4" and "Annex A.2" sort without comparing text with numbers."""
    return tuple((0, int(x), "") if x.isdigit() else (1, 0, x) for x in re.split(r"[ .]", clause))
