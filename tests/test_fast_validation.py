"""The compiled validator only decides valid or not: every problem reported is jsonschema's,
the same byte for byte as without the fast path, and it never passes a record jsonschema fails."""
from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest

from checker.records import fast_schema, validate
from checker.records.reader import Record, read_records
from checker.records.schema_registry import inlined_schema, record_types, validator

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo-cb"
HOSTILE_VALUES = [None, 1.0, 2.5, True, -3, 0, "", "x\n", "2024-02-30", "2024-2-3", "2024-01-01\n", "stage9",
                  "has space", "a" * 200, [], [1], ["2024-13-01"], {}, {"x": 1}, {"x-extra": 1}]


def _one_record_per_type() -> list[Record]:
    first = {}
    for rec in read_records(DEMO).records:
        first.setdefault(rec.type, rec)
    return [first[t] for t in sorted(first)]


def _paths(data, prefix=()):
    """Every key path into the record, down to the first item of each list."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield prefix + (key,)
            yield from _paths(value, prefix + (key,))
    elif isinstance(data, list) and data:
        yield prefix + (0,)
        yield from _paths(data[0], prefix + (0,))


def _set(data, path, value):
    out = copy.deepcopy(data)
    target = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return out


def _mutants(rec: Record):
    for path in [p for p in _paths(rec.data) if p != ("type",)]:   # a bad type never reaches a schema
        for value in HOSTILE_VALUES:
            yield _set(rec.data, path, value)
        if isinstance(path[-1], str) and path[-1] not in ("id", "type"):
            parent = _set(rec.data, path, None)
            target = parent
            for step in path[:-1]:
                target = target[step]
            del target[path[-1]]
            yield parent
    yield dict(rec.data, colour="red")
    yield {k: v for k, v in rec.data.items() if k != "id"}


CORPUS = [Record(data, rec.file, rec.document, rec.root) for rec in _one_record_per_type() for data in _mutants(rec)]


def test_the_corpus_covers_every_record_type_and_mostly_invalid_records():
    assert {r.type for r in CORPUS} == set(record_types())
    failing = [r for r in CORPUS if any(True for _ in validator(r.type).iter_errors(r.data))]
    assert len(failing) > len(CORPUS) // 2


def test_every_shipped_schema_gets_a_compiled_check():
    # If a schema grows a keyword the compiled check cannot be trusted with, that type falls
    # back to jsonschema alone (still correct, only slower): this says so when it happens.
    assert {t: fast_schema.unsupported_keywords(inlined_schema(t)) for t in record_types()} == \
        {t: set() for t in record_types()}


def test_the_compiled_check_never_passes_what_jsonschema_fails():
    for rec in CORPUS:
        if fast_schema.surely_valid(rec.type, rec.data):
            assert list(validator(rec.type).iter_errors(rec.data)) == [], (rec.type, rec.data)


def test_problems_are_byte_identical_with_and_without_the_fast_path(monkeypatch):
    fast = [[p.as_dict() for p in validate.validate_record(rec)] for rec in CORPUS]
    monkeypatch.setattr(validate, "surely_valid", lambda type_name, data: False)
    slow = [[p.as_dict() for p in validate.validate_record(rec)] for rec in CORPUS]
    assert fast == slow
    assert sum(map(bool, fast)) > len(CORPUS) // 2


@pytest.mark.parametrize("schema", [
    {"type": "object", "oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
    {"type": "object", "properties": {"a": {"not": {"type": "string"}}}},
    {"type": "object", "properties": {"a": {"type": "string", "format": "email"}}},
    {"type": "array", "items": [{"type": "string"}]},
    {"type": "object", "if": {"properties": {"a": {"type": "integer"}}}, "then": {"required": ["b"]}},
    {"type": "object", "not": {"properties": {"a": {"pattern": "x$"}}}},
    {"type": "object", "unevaluatedProperties": False},
])
def test_schemas_the_compiled_check_cannot_be_trusted_with_fall_back_to_jsonschema(schema):
    assert fast_schema.compile_schema(schema) is None


def test_dates_are_judged_as_jsonschema_judges_them():
    check = fast_schema.compile_schema(inlined_schema("audit"))
    base = {"type": "audit", "id": "a1", "client": "c1", "audit_type": "stage1"}
    assert check(dict(base, start_date="2024-02-29"))
    assert not check(dict(base, start_date="2023-02-29"))
    assert not check(dict(base, start_date="2024-01-01\n"))


@pytest.mark.parametrize("data, valid", [({"a": 1, "b": 2}, True), ({"b": 2}, True), ({}, True), ({"a": 1}, False)])
def test_a_condition_of_required_fields_alone_is_compiled_and_decides_as_jsonschema(data, valid):
    # team_assignment: `person` unless `external_name`; `required` is decided alike by both.
    schema = {"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}}
    assert fast_schema.unsupported_keywords(schema) == set()
    assert fast_schema.compile_schema(schema)(data) is valid
    assert jsonschema.Draft202012Validator(schema).is_valid(data) is valid


@pytest.mark.parametrize("extra, valid", [({"person": "p1"}, True), ({"external_name": "E"}, True),
                                          ({"person": "p1", "external_name": "E"}, True), ({}, False),
                                          ({"person": 7}, False), ({"external_name": 7}, False)])
def test_person_unless_external_name_is_unfolded_and_decides_as_jsonschema(extra, valid):
    # `if: {not: {required: [external_name]}}, then: {required: [person]}` is checked as
    # `anyOf: [{required: [person]}, {required: [external_name]}]`, the same schema.
    schema = inlined_schema("team_assignment")
    unfolded = fast_schema.conditions_unfolded(schema)
    assert "if" not in unfolded and unfolded["anyOf"] == [schema["then"], schema["if"]["not"]]
    data = dict({"type": "team_assignment", "id": "t1", "audit": "a1", "role": "auditor"}, **extra)
    assert fast_schema.compile_schema(schema)(data) is valid
    assert validator("team_assignment").is_valid(data) is valid


def test_only_a_negated_exact_condition_without_else_is_unfolded():
    kept = [{"if": {"required": ["a"]}, "then": {"required": ["b"]}},
            {"if": {"not": {"required": ["a"]}}, "then": {"required": ["b"]}, "else": {"required": ["c"]}},
            {"if": {"not": {"required": ["a"]}}, "then": {"required": ["b"]}, "anyOf": [{"required": ["c"]}]},
            {"if": {"not": {"minimum": 1}}, "then": {"required": ["b"]}}]
    assert [fast_schema.conditions_unfolded(schema) for schema in kept] == kept


def test_the_first_check_leaves_out_only_the_patterns_that_admit_anything_outside_conditions():
    schema = {"type": "object", "additionalProperties": False, "patternProperties": {"^x-": {}, "^n-": {"type": "integer"}},
              "properties": {"a": {"type": "object", "additionalProperties": False, "patternProperties": {"^x-": {}}}},
              "if": {"not": {"patternProperties": {"^x-": {}}}}, "then": {"required": ["a"]}}
    assert fast_schema.without_open_patterns(schema) == {
        "type": "object", "additionalProperties": False, "patternProperties": {"^n-": {"type": "integer"}},
        "properties": {"a": {"type": "object", "additionalProperties": False}},
        "if": {"not": {"patternProperties": {"^x-": {}}}}, "then": {"required": ["a"]}}


@pytest.mark.parametrize("extra, valid", [({}, True), ({"x-source": "crm"}, True), ({"x-source": None}, True),
                                          ({"source": "crm"}, False), ({"x-source": "crm", "source": "crm"}, False)])
def test_a_record_with_an_extension_field_is_judged_by_the_schema_itself(extra, valid):
    # The first check (without the x- pattern) rejects every x- field; the schema decides those.
    check = fast_schema.compile_schema(inlined_schema("audit"))
    data = dict({"type": "audit", "id": "a1", "client": "c1", "audit_type": "stage1"}, **extra)
    assert check(data) is valid
    assert validator("audit").is_valid(data) is valid
