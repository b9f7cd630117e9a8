"""What one CB's CertSearch upload needs said before it can be read: the template version, what
its own status terms mean (a legitimate "Inactive" or "Draft" has no cbcheck equivalent until the
CB says which it is), and which columns outside the template it may skip.

They come from a CertSearch mapping file (`--mapping FILE`, or BOOK.mapping.yaml beside
BOOK.xlsx; its shape is certsearch-mapping.schema.json) and from the command line
(`--status-map TERM=STATUS`, `--ignore-column HEADER`), the command line winning term by term.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from jsonschema import Draft202012Validator

from checker.errors import Problem
from checker.importers.mapping import normalize, read_mapping_document, schema_problems
from checker.records.schema_registry import record_types

FORMAT_KEY = "cbcheck_certsearch_mapping"
EXAMPLE = ("a CertSearch mapping: cbcheck_certsearch_mapping: 1, then status_map: {Inactive: withdrawn} and/or "
           "ignore_columns: [Internal note]")


@dataclass(frozen=True)
class CertsearchOptions:
    version: str | None = None
    status_map: dict = field(default_factory=dict)      # term as written -> cbcheck certificate status
    ignore_columns: tuple = ()

    def given(self) -> bool:
        return bool(self.version or self.status_map or self.ignore_columns)

    def over(self, base: "CertsearchOptions") -> "CertsearchOptions":
        """These options (the command line's) on top of `base` (a mapping file's)."""
        terms = {normalize(t): (t, s) for t, s in base.status_map.items()}
        terms.update({normalize(t): (t, s) for t, s in self.status_map.items()})
        columns = tuple(dict.fromkeys(base.ignore_columns + self.ignore_columns))
        return CertsearchOptions(self.version or base.version, dict(terms.values()), columns)


def status_problems(status_map: dict, where: str, line_of=lambda pointer: None) -> list[Problem]:
    """A term mapped to something that is not a certificate status, located at `where`."""
    allowed = record_types()["certificate"].schema["properties"]["status"]["enum"]
    return [Problem(where, line_of(f"/status_map/{term}"), f"/status_map/{term}",
                    f"maps {term!r} to {ours!r}, which is not a certificate status", "one of " + ", ".join(allowed))
            for term, ours in sorted(status_map.items()) if ours not in allowed]


def parse_status_option(value: str) -> tuple[str, str]:
    """'Inactive=withdrawn' -> ('Inactive', 'withdrawn'); ValueError saying what to write."""
    term, sep, ours = value.partition("=")
    if not sep or not term.strip() or not ours.strip():
        raise ValueError(f"{value!r}: expected TERM=STATUS, e.g. --status-map Inactive=withdrawn")
    return term.strip(), ours.strip().lower()


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    text = (resources.files("checker.importers") / "certsearch-mapping.schema.json").read_text(encoding="utf-8")
    return Draft202012Validator(json.loads(text))


def load_certsearch_mapping(path: Path) -> tuple[CertsearchOptions | None, list[Problem]]:
    """The options of a CertSearch mapping file, or (None, every problem with it)."""
    doc, problems = read_mapping_document(path)
    if problems:
        return None, problems
    file = Path(path).name
    if isinstance(doc.data, dict) and "cbcheck_mapping" in doc.data:
        return None, [Problem(file, doc.line_of("/cbcheck_mapping"), "/cbcheck_mapping",
                              "a spreadsheet mapping (cbcheck_mapping), but the source is a CertSearch upload "
                              "workbook, which needs no column mapping", EXAMPLE)]
    problems = schema_problems(_validator(), doc.data, file, doc)
    if problems:
        return None, problems
    status_map = doc.data.get("status_map", {})
    problems = status_problems(status_map, file, doc.line_of)
    if problems:
        return None, problems
    return CertsearchOptions(doc.data.get("version"), dict(status_map), tuple(doc.data.get("ignore_columns", ()))), []


def resolve_options(mapping_path: Path | None, given: CertsearchOptions) -> tuple[CertsearchOptions, list[Problem]]:
    """The options a read uses: the mapping file's (when there is one) under the command line's."""
    problems = status_problems(given.status_map, "--status-map")
    if mapping_path is None:
        return given, problems
    from_file, file_problems = load_certsearch_mapping(mapping_path)
    if file_problems:
        return given, problems + file_problems
    return given.over(from_file), problems
