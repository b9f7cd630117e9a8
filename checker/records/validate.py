"""Schema validation of records, with every error located (file, line, JSON Pointer)."""
from __future__ import annotations

from checker.errors import Problem
from checker.records.fast_schema import surely_valid
from checker.records.located import escape_pointer_token
from checker.records.reader import Record, RefusedRecord
from checker.records.schema_registry import record_types, validator

UNKNOWN_FIELDS_LISTED = 20     # per record and object; the rest are counted in one more problem


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


def _unknown_fields(record: Record, error, pointer: str) -> dict:
    """One problem per unknown field, the first UNKNOWN_FIELDS_LISTED of them, then one that
    counts the rest: a record with thousands of stray columns stays readable."""
    known = error.schema.get("properties", {})
    unknown = sorted(str(k) for k in error.instance if k not in known and not str(k).startswith("x-"))
    out = {}
    for key in unknown[:UNKNOWN_FIELDS_LISTED]:
        at = f"{pointer}/{escape_pointer_token(key)}"
        out[(at, "unknown")] = Problem(record.file, record.line_of(at), record.root + at,
                                       f"unknown field {key!r}", _expected(error))
    if len(unknown) > UNKNOWN_FIELDS_LISTED:
        rest = len(unknown) - UNKNOWN_FIELDS_LISTED
        out[(pointer, "more unknown")] = Problem(
            record.file, record.line_of(pointer), record.root + pointer or "/",
            f"{rest} more unknown field{'s' if rest > 1 else ''}, not listed one by one (the first "
            f"{UNKNOWN_FIELDS_LISTED} are)",
            _expected(error))
    return out


def validate_record(record: Record) -> list[Problem]:
    if isinstance(record, RefusedRecord):
        return list(record.refused)     # what refused it; its skeleton is not for the schemas
    types, kind = record_types(), record.type
    if not isinstance(kind, str) or kind not in types:
        got = "no `type` field" if kind is None else f"unknown record type {kind!r}"
        return [Problem(record.file, record.line_of("/type"), record.root + "/type", got,
                        "one of " + ", ".join(sorted(types)))]
    if surely_valid(kind, record.data):
        return []   # the compiled check passed it; jsonschema explains only the rest
    problems = {}
    for error in validator(kind).iter_errors(record.data):
        pointer = "".join("/" + escape_pointer_token(p) for p in error.absolute_path)
        if error.validator == "additionalProperties":
            problems.update(_unknown_fields(record, error, pointer))
            continue
        msg = _message(error)
        key = (pointer, msg)
        if key not in problems:  # a bad date fails both pattern and format; say it once
            problems[key] = Problem(record.file, record.line_of(pointer), record.root + pointer, msg,
                                    _expected(error))
    return list(problems.values())
