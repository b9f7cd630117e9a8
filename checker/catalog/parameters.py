"""Named parameters: every number a check uses, with its source and whether to verify it.

`rules/parameters.yaml` holds the defaults; `--params FILE` overrides values and can mark
rules not applicable to this CB. Overrides are type-checked against the defaults, and the
report lists every value used and where it came from.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from checker.errors import Problem
from checker.records.located import load_yaml_documents

PARAMETER_FIELDS = {"value", "unit", "clause", "source", "verify", "description"}


@dataclass
class Parameter:
    name: str
    value: object
    unit: str
    clause: str
    source: str
    verify: bool
    description: str
    overridden_from: object = None
    overridden: bool = False


@dataclass
class Parameters:
    items: dict[str, Parameter]
    not_applicable: dict[str, str] = field(default_factory=dict)

    def values(self) -> dict:
        return {name: p.value for name, p in self.items.items()}


def _one_document(path: Path, problems):
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(Problem(str(path), None, "", f"cannot read: {exc.strerror}", "a readable YAML file"))
        return None
    docs, errs = load_yaml_documents(text, str(path))
    problems.extend(errs)
    if errs:
        return None
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        problems.append(Problem(str(path), None, "", "expected one YAML mapping", "a mapping of names"))
        return None
    return docs[0]


def _is_table(value) -> bool:
    return (isinstance(value, list) and value and all(isinstance(b, dict) and set(b) <= {"max_persons", "days"}
            and "days" in b for b in value))


_EDITION_ROW = {"edition", "replaced_by", "transition_end"}


def _is_edition_list(value) -> bool:
    """standard_edition_transitions: rows naming an edition ("ISO/IEC 20000-1:2011"), its successor
    and the last day of the transition (YYYY-MM-DD)."""
    def row_ok(row) -> bool:
        if not isinstance(row, dict) or set(row) != _EDITION_ROW or not all(isinstance(v, str) for v in row.values()):
            return False
        try:
            dt.date.fromisoformat(row["transition_end"])
        except ValueError:
            return False
        return bool(re.search(r"\d:\s*\d{4}", row["edition"]))
    return isinstance(value, list) and all(row_ok(row) for row in value)


def _same_type(default, value) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float))
    if _is_table(default):
        return _is_table(value)
    if default and _is_edition_list(default):
        return _is_edition_list(value)
    if isinstance(default, list) and all(isinstance(v, str) for v in default):   # a list of names
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return type(default) is type(value)


def _mixed_words(value) -> bool:
    """A list of words with a value of another kind among them: YAML 1.1 reads a bare on, off,
    yes or no as a boolean, so a word list would silently lose that word."""
    return (isinstance(value, list) and any(isinstance(v, str) for v in value)
            and any(not isinstance(v, (str, dict)) for v in value))


def _read_definitions(path: Path, items: dict[str, Parameter], problems: list[Problem]) -> None:
    doc = _one_document(path, problems)
    if doc is None:
        return
    for name, spec in doc.data.items():
        pointer = f"/{name}"
        if not isinstance(spec, dict) or "value" not in spec or set(spec) - PARAMETER_FIELDS:
            problems.append(Problem(str(path), doc.line_of(pointer), pointer, f"parameter {name!r} is malformed",
                                    "a mapping with value, unit, clause, source, verify, description"))
        elif _mixed_words(spec["value"]):
            problems.append(Problem(str(path), doc.line_of(pointer + "/value"), pointer + "/value",
                                    f"parameter {name!r} mixes words with other values: "
                                    f"{[v for v in spec['value'] if not isinstance(v, str)]!r}",
                                    "a list of words only; quote words YAML reads as true/false or numbers "
                                    "(\"on\", \"no\", \"off\", \"yes\")"))
        elif name in items:
            problems.append(Problem(str(path), doc.line_of(pointer), pointer, f"parameter {name!r} is defined twice",
                                    "each parameter defined once across parameters.yaml and parameters.d/"))
        else:
            items[name] = Parameter(name, spec["value"], spec.get("unit", ""), spec.get("clause", ""),
                                    spec.get("source", ""), bool(spec.get("verify", False)),
                                    spec.get("description", ""))


def _override(items: dict[str, Parameter], values: dict, where: str, line_of, base: str) -> list[Problem]:
    """Set each named parameter to its new value, type-checked against the default; what
    cannot be set is a problem located at `base`/name."""
    problems = []
    for name, value in values.items():
        pointer = f"{base}/{name}"
        if name not in items:
            problems.append(Problem(where, line_of(pointer), pointer, f"unknown parameter {name!r}",
                                    "one of " + ", ".join(sorted(items))))
        elif not _same_type(items[name].value, value):
            problems.append(Problem(where, line_of(pointer), pointer,
                                    f"{name} must have the same kind of value as its default {items[name].value!r}; got {value!r}",
                                    type(items[name].value).__name__))
        else:
            p = items[name]
            p.overridden_from, p.value, p.overridden = p.value, value, True
    return problems


def with_overrides(params: Parameters, values: dict, where: str, line_of=lambda pointer: None,
                   base: str = "") -> tuple[Parameters, list[Problem]]:
    """A copy of `params` with `values` set as --params would set them (the original is left
    as it was), and the problems with any of them."""
    items = {name: replace(p) for name, p in params.items.items()}
    problems = _override(items, values, where, line_of, base)
    return Parameters(items, dict(params.not_applicable)), problems


def load_parameters(defaults_path: Path, override_path: Path | None = None) -> tuple[Parameters, list[Problem]]:
    """Defaults from parameters.yaml and any parameters.d/*.yaml beside it, then the overrides."""
    problems: list[Problem] = []
    items: dict[str, Parameter] = {}
    _read_definitions(defaults_path, items, problems)
    for extra in sorted((defaults_path.parent / "parameters.d").glob("*.yaml")):
        _read_definitions(extra, items, problems)
    params = Parameters(items)
    if override_path is None:
        return params, problems
    doc = _one_document(Path(override_path), problems)
    if doc is None:
        return params, problems
    where = str(override_path)
    for key in set(doc.data) - {"parameters", "not_applicable"}:
        problems.append(Problem(where, doc.line_of(f"/{key}"), f"/{key}", f"unknown section {key!r}",
                                "`parameters:` and/or `not_applicable:`"))
    problems += _override(items, doc.data.get("parameters") or {}, where, doc.line_of, "/parameters")
    for rule_id, reason in (doc.data.get("not_applicable") or {}).items():
        pointer = f"/not_applicable/{rule_id}"
        if not isinstance(reason, str) or not reason.strip():
            problems.append(Problem(where, doc.line_of(pointer), pointer, "a rule marked not applicable needs a reason",
                                    "RULE_ID: why it does not apply to this CB"))
        else:
            params.not_applicable[str(rule_id)] = reason.strip()
    return params, problems
