"""What a cached verdict is keyed on: everything a partition's verdict is a function of except
the date (an entry's steady span covers the date, see runner.py).

A key digests, in canonical JSON: the cache format; the run's setting (the judged rules' checks
and scopes, the parameters' values, cbcheck's version and the digest of its own code, the
evaluator, durable_rules' and Python's versions); the partition's id and scope; its own records
(for the CB-wide partition, derive_cb_wide's pseudo-records too, since they are in the task)
and the digest of each CB-wide record it reads. Locations (file, line) are not in it: findings
are located from the current run's index.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import platform
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import orjson

from checker import __version__

FORMAT = "cbcheck-cache/2"      # 2: with the first pass's memo of JSON Lines chunks (store.py)
CHECKER = Path(__file__).resolve().parents[2]


def _plain(value):
    """JSON's form of what json cannot write itself: a dataclass with its class name (the check
    language's nodes: AsOf() and Lit(None) must differ), a set sorted, a date as ISO text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__class__": type(value).__name__, **{f.name: getattr(value, f.name) for f in dataclasses.fields(value)}}
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=canonical)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot digest a {type(value).__name__}")


def canonical(value) -> bytes:
    """The same bytes for the same data, whatever the order of its mappings' keys."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_plain).encode("ascii")


def digest(value) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


@lru_cache(maxsize=1)
def code_digest() -> str:
    """The digest of cbcheck's own code and data files: a changed evaluator, derived value or
    schema invalidates every entry, even where the version number stayed the same."""
    h = hashlib.sha256()
    for path in sorted(p for p in CHECKER.rglob("*") if p.suffix in (".py", ".json", ".yaml") and p.is_file()):
        h.update(str(path.relative_to(CHECKER)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def setting_digest(rules, params: dict, evaluator: str) -> str:
    """The digest of what every partition's verdict of a run depends on besides its records."""
    checks = [[r.id, r.scope, r.checks] for r in sorted(rules, key=lambda r: r.id) if r.automated]
    return digest([FORMAT, __version__, code_digest(), evaluator, _version("durable-rules"),
                   platform.python_implementation(), platform.python_version(), checks, params])


def task_digest(task, shared_digests: dict[str, str], setting: str) -> str:
    """The key of one task's verdict. The one place a task's content is digested: a task that
    carries a digest of its own records (`task.digest`, as a reader can compute it from their
    raw bytes) is taken at its word, others are digested here from their records' canonical
    JSON. The CB-wide records it reads go by their digests (`shared_digests`, by id)."""
    own = getattr(task, "digest", None) or digest(task.records)
    texts = [setting, task.sid, task.scope, own, [[rid, shared_digests[rid]] for rid in task.shared]]
    try:
        # Texts only, in lists: orjson's JSON of them is canonical too, at a quarter of
        # json's cost (10,000 keys a night); it refuses a lone surrogate, which json writes.
        return hashlib.sha256(orjson.dumps(texts)).hexdigest()
    except orjson.JSONEncodeError:
        return digest(texts)
