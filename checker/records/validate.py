"""Schema validation of records, with every error located (file, line, JSON Pointer)."""
from __future__ import annotations

from checker.errors import Problem
from checker.records.located import escape_pointer_token
from checker.records.reader import Record
from checker.records.schema_registry import record_types, validator


def _expected(error) -> str:
    v, schema = error.validator, error.schema
    if v == "enum":
        return "one of " + ", ".join(map(str, error.validator_value))
    if v in ("pattern", "format") and schema.get("format") == "date":
        return "a real date written YYYY-MM-DD"
    if v == "type":
        return f"a value of type {error.validator_value}"
    if v == "required":
        return "the field to be present"
    if v == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        return "one of the fields " + ", ".join(allowed) + " (or an x- prefixed extension)"
    if v == "pattern":
        return f"text matching {error.validator_value}"
    if v == "const":
        return repr(error.validator_value)
    return f"{v} {error.validator_value!r}"


def _message(error) -> str:
    if error.schema.get("format") == "date" and error.validator in ("pattern", "format"):
        return f"not a valid date: {error.instance!r}"
    if error.validator == "required":
        return error.message.replace("is a required property", "is missing")
    return error.message


def validate_record(record: Record) -> list[Problem]:
    types = record_types()
    if not isinstance(record.type, str) or record.type not in types:
        got = "no `type` field" if record.type is None else f"unknown record type {record.type!r}"
        return [Problem(record.file, record.line_of("/type"), record.root + "/type", got,
                        "one of " + ", ".join(sorted(types)))]
    problems = {}
    for error in validator(record.type).iter_errors(record.data):
        pointer = "".join("/" + escape_pointer_token(p) for p in error.absolute_path)
        if error.validator == "additionalProperties":
            known = error.schema.get("properties", {})
            for key in sorted(k for k in error.instance if k not in known and not str(k).startswith("x-")):
                at = f"{pointer}/{escape_pointer_token(key)}"
                problems[(at, "unknown")] = Problem(record.file, record.line_of(at), record.root + at,
                                                    f"unknown field {key!r}", _expected(error))
            continue
        msg = _message(error)
        key = (pointer, msg)
        if key not in problems:  # a bad date fails both pattern and format; say it once
            problems[key] = Problem(record.file, record.line_of(pointer), record.root + pointer, msg,
                                    _expected(error))
    return list(problems.values())
