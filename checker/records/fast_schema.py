"""Compiled record validators (fastjsonschema) that only decide valid or not.

Validation with jsonschema was 43 % of a whole run's time; nearly every record of a real
export is valid, and for those a compiled check is enough. A record the compiled check
rejects is explained by jsonschema (validate.py), so every message stays as exact and as
located as before, and jsonschema's verdict is the one that counts.

That is only sound if the compiled check never passes a record jsonschema would fail.
Being stricter is harmless (jsonschema then finds nothing and the record is valid): e.g.
fastjsonschema takes 1.0 as no integer and `$` in a pattern as the very end of the text.
So a type gets a compiled check only when every keyword of its schema is one whose result
can only get stricter under those differences; `not`, `oneOf` and `if`/`then`/`else` can
turn a stricter sub-check into a more lenient whole, so a schema using them (or any keyword
not listed) keeps jsonschema alone, except a condition (`if`, `not`) made only of keywords
both decide exactly alike (`required`: "person unless external_name"). This is decided once,
when the validator is built.

One difference goes the other way and is harmless only because of where records come from:
fastjsonschema takes a Python tuple as an array, jsonschema does not; the JSON, YAML,
spreadsheet and database readers build lists, never tuples.

The schema compiled is the one jsonschema uses (`$ref`s to common.schema.json already
inlined, so draft 2020-12's "`$ref` with siblings" is not left to fastjsonschema's draft-7
reading), and the `date` format is jsonschema's own check.
"""
from __future__ import annotations

from functools import lru_cache

import fastjsonschema
from jsonschema import FormatChecker

from checker.records.schema_registry import inlined_schema, record_types

# Keywords whose compiled check is at least as strict as jsonschema's (see above).
MONOTONE_KEYWORDS = frozenset({
    "type", "properties", "additionalProperties", "patternProperties", "required", "enum", "const",
    "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
    "maxLength", "minItems", "maxItems", "items", "anyOf", "allOf",
})
# Keywords whose compiled check decides exactly as jsonschema does. A condition (`if`, `not`)
# built only from these cannot flip the whole to more lenient, so `if`/`then`/`else` and
# `not` are trusted when their conditions are exact and their branches monotone.
EXACT_KEYWORDS = frozenset({"required"})
CONDITIONS = ("if", "not")
ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description", "examples", "$comment"})
SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs")
FORMATS = {"date"}     # formats given to the compiled check, each as jsonschema decides it


def unsupported_keywords(schema, found: set[str] | None = None) -> set[str]:
    """Keywords (and formats, as `format:NAME`) in `schema` the compiled check cannot be
    trusted with."""
    found = set() if found is None else found
    if not isinstance(schema, dict):
        return found
    for key, value in schema.items():
        if key.startswith("x-") or key in ANNOTATIONS or key in ("then", "else"):
            continue
        if key in CONDITIONS:
            if not _exact(value):
                found.add(key)
        elif key not in MONOTONE_KEYWORDS:
            found.add(key)
        elif key == "format" and value not in FORMATS:
            found.add(f"format:{value}")
        elif key == "items" and not isinstance(value, dict):
            found.add("items (array form)")
    for key in SUBSCHEMA_MAPS:
        for sub in (schema.get(key) or {}).values():
            unsupported_keywords(sub, found)
    for key in ("items", "additionalProperties", "then", "else"):
        unsupported_keywords(schema.get(key), found)
    for key in ("anyOf", "allOf"):
        for sub in schema.get(key) or []:
            unsupported_keywords(sub, found)
    return found


def _exact(condition) -> bool:
    """A condition schema made only of keywords both validators decide alike."""
    return isinstance(condition, dict) and all(
        key in EXACT_KEYWORDS or key in ANNOTATIONS or key.startswith("x-") or (key == "not" and _exact(value))
        for key, value in condition.items())


def _conforms(check, raises):
    """FormatChecker.conforms for one format, without its look-up per value, remembered for
    the last texts it was asked about: a client's records repeat the same few dates."""
    def conforms(value) -> bool:
        try:
            return bool(check(value))
        except raises:
            return False
    remembered = lru_cache(maxsize=4096)(conforms)
    return lambda value: remembered(value) if type(value) is str else conforms(value)


def _subschemas_changed(schema: dict, change) -> dict:
    """A copy of `schema` with `change` made to each of its subschemas outside its conditions
    (`if`, `not`: a stricter condition can make the whole more lenient)."""
    out = dict(schema)
    for key in SUBSCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {name: change(sub) for name, sub in out[key].items()}
    for key in ("items", "additionalProperties", "then", "else"):
        if key in out:
            out[key] = change(out[key])
    for key in ("anyOf", "allOf"):
        if isinstance(out.get(key), list):
            out[key] = [change(sub) for sub in out[key]]
    return out


def without_open_patterns(schema):
    """`schema` without the `patternProperties` entries that admit anything (`"^x-": {}`, the
    extensions every record type allows), at every level: a stricter schema, never a more
    lenient one, since a key they admitted is then judged by `additionalProperties` (or by
    another pattern it matches) instead. Checking a record against it first skips a regex
    search and a Python step per key of every record (a third of a record's compiled check);
    a record it rejects (one with an x- field, or an invalid one) is checked again against
    the schema itself (compile_schema)."""
    if not isinstance(schema, dict):
        return schema
    out = _subschemas_changed(schema, without_open_patterns)
    patterns = schema.get("patternProperties")
    if isinstance(patterns, dict):
        out["patternProperties"] = {name: sub for name, sub in out["patternProperties"].items()
                                    if patterns[name] not in ({}, True)}
        if not out["patternProperties"]:
            del out["patternProperties"]
    return out


def conditions_unfolded(schema):
    """`schema` with every `if: {not: R}, then: T` (no `else`; R of keywords both validators
    decide alike: _exact) written `anyOf: [T, R]`, at every level where no `anyOf` is given
    already: the same schema (a value passes where R holds or T does), which fastjsonschema
    checks without raising and catching an error for every value R fails (team_assignment's
    "person unless external_name": every team member the CB employs, 10 records a client)."""
    if not isinstance(schema, dict):
        return schema
    out = _subschemas_changed(schema, conditions_unfolded)
    condition = out.get("if")
    if ("then" in out and "else" not in out and "anyOf" not in out and isinstance(condition, dict)
            and list(condition) == ["not"] and _exact(condition["not"])):
        out["anyOf"] = [out.pop("then"), condition["not"]]
        del out["if"]
    return out


def _compiled(schema: dict, formats: dict):
    """fastjsonschema's check of `schema` as a function data -> bool."""
    check = fastjsonschema.compile(schema, formats=formats, use_default=False)

    def is_valid(data) -> bool:
        try:
            check(data)
        except fastjsonschema.JsonSchemaException:
            return False
        return True
    return is_valid


def compile_schema(schema: dict):
    """A function record -> bool, or None when the schema needs jsonschema alone. It checks
    against the stricter without_open_patterns(schema) (its conditions unfolded) first, and
    against `schema` itself, compiled when first needed, only what that rejects."""
    if unsupported_keywords(schema):
        return None
    checker = FormatChecker()
    formats = {f: _conforms(*checker.checkers[f]) for f in FORMATS}
    strict = conditions_unfolded(without_open_patterns(schema))
    if strict == schema:
        return _compiled(schema, formats)
    first, exact = _compiled(strict, formats), []

    def is_valid(data) -> bool:
        if first(data):
            return True
        if not exact:
            exact.append(_compiled(schema, formats))
        return exact[0](data)
    return is_valid


@lru_cache(maxsize=None)
def fast_check(type_name: str):
    """The compiled check of a record type, or None: built once per type and process."""
    return compile_schema(inlined_schema(type_name))


def compile_all():
    """Build every record type's check now: a process about to fork workers that validate
    (engine/workers.StandingPool) builds them once for all of them, instead of each worker
    building its own (0.1 CPU-s a process for the 19 types)."""
    for type_name in sorted(record_types()):
        fast_check(type_name)


def surely_valid(type_name: str, data) -> bool:
    """True when the record certainly passes its schema; False means "ask jsonschema"."""
    check = fast_check(type_name)
    return check is not None and check(data)
