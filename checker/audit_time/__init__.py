"""`cbcheck audit-time`: the initial, stage, surveillance and recertification audit time of one
SMS client from ISO/IEC 20000-6 Table 1, the CB's adjustment factors, IAF MD 1 sites and IAF
MD 11 integration, every number a parameter of the catalog. It reads parameters and derive's
look-ups (the same ones the TIME rules use) and writes the `audit_time` of an application
review, so `cbcheck check` judges exactly what was calculated.

Layering: catalog parameters and derive functions below it; nothing in the engine, the
report or the renderers depends on it.
"""
from __future__ import annotations

from pathlib import Path

from checker.audit_time.calculate import calculate, settings_from
from checker.audit_time.inputs import check_input, read_input
from checker.catalog.parameters import Parameters
from checker.errors import Problem


def audit_time(path: Path | None, options: dict, params: Parameters) -> tuple[dict | None, list[Problem]]:
    """The calculation for the input file at `path` (or none) with `options` (persons, client,
    adjustments given on the command line) laid over it; or every problem found."""
    settings, problems = settings_from(params)
    if problems:
        return None, problems
    data, doc, file = {}, None, "command line"
    if path is not None:
        data, doc, problems = read_input(path)
        if problems:
            return None, problems
        file = str(path)
    data = {**data, **{k: v for k, v in options.items() if k != "adjustments" and v is not None}}
    if options.get("adjustments"):
        data["adjustments"] = list(data.get("adjustments") or []) + options["adjustments"]
    problems = check_input(data, file, doc, settings.factors, settings.table)
    if problems:
        return None, problems
    return calculate(data, params, settings), []
