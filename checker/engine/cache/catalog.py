"""`check --cache DIR` keeps the loaded catalog too: the rules and parameters as
pipeline.load_rules gave them, read back in a few milliseconds where reading them again costs a
quarter of a CPU-second (288 YAML files parsed, each validated against the rule schema, every
check parsed): a twentieth of a cached night.

Keyed on everything the loaded catalog is made from: the bytes and names of every file under
the rules folder (rules, schema, parameters, clauses), the --params file's bytes and name, the
--rule ids, and cbcheck's own code and data files (keys.code_digest: the loader, the check
language, the record schemas it types checks against). Any change to one of them is a miss, and
the catalog is loaded as always and stored again; a catalog with problems is never stored.

One file in the cache folder (CATALOG_FILE), replaced whole (written beside it, then renamed):
a first line with the format, the key and the SHA-256 of the rest, then the catalog in JSON.
Never pickle (a cache folder may be shared; unpickling runs code): the JSON holds plain values,
tagged lists for tuples, frozensets, dicts and the catalog's own dataclasses, and is rebuilt
only into the classes named in CLASSES, each with exactly its fields. A catalog is stored only
when it reads back equal to the one loaded; a file that is damaged, foreign, of another key or
of an unknown shape is a miss, never an error. As with the entries (entries.py), whoever may
write the cache folder can change what a cached run reports; what they cannot do is run code.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import tempfile
from pathlib import Path

import orjson

from checker.catalog import check_language
from checker.catalog.loader import Rule
from checker.catalog.parameters import Parameter, Parameters
from checker.engine.cache.keys import code_digest

CATALOG_FILE = "cbcheck-catalog.json"
FORMAT = b"cbcheck-catalog/1"
CLASSES = {cls.__name__: cls for cls in (
    Rule, Parameter, Parameters, check_language.Check, check_language.Binding, check_language.Absent,
    check_language.Lit, check_language.Ref, check_language.AsOf, check_language.SelfRef, check_language.Offset,
    check_language.Compare, check_language.Exists, check_language.OneOf)}
_SCALARS = (str, int, float, bool, type(None))


class _Unwritable(Exception):
    """A value the catalog's JSON form cannot hold: the catalog is not stored."""


class _Unreadable(Exception):
    """A stored value of no shape _plain writes: the file is a miss."""


def catalog_key(rules_dir: Path, params_file: Path | None, only: set[str] | None) -> bytes | None:
    """The digest of everything the loaded catalog is made from (see the module's docstring);
    None when a file cannot be read (the loader says which)."""
    try:
        return _key(rules_dir, params_file, only)
    except OSError:
        return None


def _key(rules_dir: Path, params_file: Path | None, only: set[str] | None) -> bytes:
    h = hashlib.sha256(FORMAT + b"\0" + code_digest().encode() + b"\0" + repr(sorted(only or ())).encode())
    files = sorted(p for p in Path(rules_dir).rglob("*") if p.is_file())
    for path in files + ([Path(params_file)] if params_file else []):
        h.update(f"\0{path.resolve()}\0{path.stat().st_size}\0".encode("utf-8", "surrogatepass"))
        h.update(path.read_bytes())
    return h.hexdigest().encode()


def read_catalog(folder: Path, key: bytes) -> tuple[list, Parameters] | None:
    """(rules, parameters) stored under `key` in `folder`, or None (no file, another key, or
    one that does not read back whole)."""
    try:
        head, _newline, body = (Path(folder) / CATALOG_FILE).read_bytes().partition(b"\n")
    except OSError:
        return None
    if head != _head(key, body):
        return None
    try:
        rules, params = _built(orjson.loads(body))
    except (orjson.JSONDecodeError, _Unreadable, TypeError, ValueError, RecursionError):
        return None
    if not (isinstance(rules, list) and all(isinstance(r, Rule) for r in rules) and isinstance(params, Parameters)):
        return None
    return rules, params


def write_catalog(folder: Path, key: bytes, rules: list, params: Parameters) -> None:
    """Store the catalog under `key` when its JSON form reads back equal to it; a folder that
    cannot take the file is left as it is (the next run loads the catalog again)."""
    try:
        body = orjson.dumps(_plain([rules, params]))
        exact = _built(orjson.loads(body)) == [rules, params]
    except (_Unwritable, _Unreadable, TypeError, ValueError, RecursionError):
        return
    if not exact:
        return
    temporary = None
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{CATALOG_FILE}.", dir=folder)
        with os.fdopen(fd, "wb") as out:
            out.write(_head(key, body) + b"\n" + body)
        os.replace(temporary, Path(folder) / CATALOG_FILE)
    except OSError:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _head(key: bytes, body: bytes) -> bytes:
    return FORMAT + b" " + key + b" " + hashlib.sha256(body).hexdigest().encode()


def _plain(value):
    """`value` in JSON's terms: a scalar as itself; a list, tuple, frozenset, dict (of str keys)
    or one of CLASSES as a list tagged with what it was."""
    if isinstance(value, _SCALARS):
        return value
    if type(value) in (list, tuple, frozenset):
        return [{list: "L", tuple: "T", frozenset: "F"}[type(value)], *map(_plain, value)]
    if type(value) is dict and all(type(k) is str for k in value):
        return ["D", *(x for k, v in value.items() for x in (k, _plain(v)))]
    if CLASSES.get(type(value).__name__) is type(value):
        return ["C", type(value).__name__, *(_plain(getattr(value, f.name)) for f in dataclasses.fields(value))]
    raise _Unwritable(type(value).__name__)


def _built(value):
    """What _plain made `value` from; _Unreadable for a shape it does not write."""
    if isinstance(value, _SCALARS):
        return value
    if not (type(value) is list and value and value[0] in ("L", "T", "F", "D", "C")):
        raise _Unreadable("an untagged value")
    tag, items = value[0], value[1:]
    if tag == "C":
        cls = CLASSES.get(items[0]) if items and type(items[0]) is str else None
        if cls is None or len(items) - 1 != len(dataclasses.fields(cls)):
            raise _Unreadable("an unknown class or fields")
        return cls(*map(_built, items[1:]))
    if tag == "D":
        if len(items) % 2 or not all(type(k) is str for k in items[::2]):
            raise _Unreadable("a mapping of other keys")
        return dict(zip(items[::2], map(_built, items[1::2])))
    return {"L": list, "T": tuple, "F": frozenset}[tag](map(_built, items))
