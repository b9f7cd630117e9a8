"""Reads a CB's certification upload workbook in the IAF CertSearch "Certification Template
for Certification Body" layout into client and certificate records.

What the layout is rests on ../shared/formats/iaf-certsearch-cb-template.md (a summary of
the CertSearch support pages, with what was seen and what was inferred). In short:

- 2.0 and 2.1: a Certified Entity sheet (one row per certified organisation), a
  Certifications sheet (one row per certificate, tied to its entity by Certified Entity
  Unique ID), Certification Sites and Certification Standard & Scheme sheets (rows tied to
  a certificate by Certification Identity Number); 2.1 adds a Certification Sector sheet.
- Legacy and 1.1: the entity's columns sit on the Certifications sheet itself. The sources
  do not show a column that tells these two apart, so both are detected as "legacy/1.1";
  declare one with `version` when it matters to you.

Sheet names and headers are matched ignoring case, spaces and punctuation, so both the
Excel captions and the XML/API field names (certification_identity_number) are read. The
exact captions of some 2.x columns were not visible in the sources (see the format note's
Gaps); the aliases below are the documented ones plus the obvious variants.

Certificate status: CertSearch's terms map to cbcheck's certificate.status by the table
STATUS_TERMS below; Inactive, Draft and Hidden have no equivalent and are reported as
problems unless the caller maps them (`status_map`); any other term is reported, never
guessed. Everything CertSearch holds that a cbcheck record has no field for (trading name,
certification type, accreditation status, site scopes, sectors...) is
kept under the record's `x-certsearch` extension field, so nothing read is dropped.

What a certificate record gets beyond its own row (see _register_fields):
- client_name and client_address: the certified entity's name and address, as its row states
  them (an address is the Full Address, else the street, city, state, postcode and country).
- derived values, listed in the record's `x-derived: [field, ...]` extension field because
  the register does not state them, the importer infers them (_register_fields): the effective
  date is the Certification Issue Date (the register's date of the certificate now in force);
  the service provider is the certified entity; the service locations are the certificate's
  sites.
- `x-not-in-source: [field, ...]`: the certificate fields the template has no column for
  (NOT_IN_SOURCE below, and the effective date when there is no issue date to derive it
  from). A field so marked on every certificate makes the rules that read it `not_assessed`
  rather than a finding on every certificate (checker/records/evidence.py).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from checker.errors import Problem, sort_problems
from checker.importers.convert import Refused, convert_cell, is_empty
from checker.importers.headers import Column, resolve_headers
from checker.importers.layout import FieldSpec
from checker.importers.certsearch_options import status_problems
from checker.importers.mapping import ID_RE, Options, normalize
from checker.importers.origins import Built, Origin
from checker.importers.sources import RawSheet, Unusable, column_letter, read_workbook, workbook_refusal
from checker.records.reader import ReadResult

VERSIONS = ("legacy", "1.1", "2.0", "2.1")
FLAT_LAYOUT = "legacy/1.1"

# CertSearch status term -> cbcheck certificate.status. Cancelled ("permanently revoked or
# ended") is a certification that no longer exists: in ISO/IEC 17021-1 terms a withdrawal.
STATUS_TERMS = {"active": "active", "suspended": "suspended", "withdrawn": "withdrawn", "expired": "expired",
                "cancelled": "withdrawn", "canceled": "withdrawn"}
NO_EQUIVALENT = {
    "inactive": "'Inactive' (not valid, with no other status) has no cbcheck equivalent: it could be expired, "
                "withdrawn or superseded",
    "draft": "'Draft' is an unfinished CertSearch record, not an issued certificate",
    "hidden": "'Hidden' (the legacy name of Draft) is an unfinished record, not an issued certificate",
}
CERTSEARCH_STATUSES = "Active, Inactive, Suspended, Cancelled, Draft, Withdrawn, Expired (legacy: Hidden)"

_DATES = Options(date_formats=("YYYYMMDD", "YYYY-MM-DD"))
_DATE = FieldSpec("date", "date")
_TEXT = FieldSpec("text", "text")


def _key(text) -> str:
    return re.sub(r"[^a-z0-9]", "", str(text).casefold().replace("&", "and"))


SHEET_ROLES = {
    "entity": ("Certified Entity", "Certified Entities"),
    "certifications": ("Certifications", "Certification", "Certification Data"),
    "sites": ("Certification Sites", "Certification Site", "Sites"),
    "standards": ("Certification Standard & Scheme", "Certification Standards & Schemes", "Standard & Scheme",
                  "Standards Codes", "Standards-Codes", "Certification Standards"),
    "sector": ("Certification Sector", "Certification Sectors", "Sector", "Sectors"),
}

ENTITY_COLUMNS = {
    "entity_id": ("Certified Entity Unique ID",),
    "entity_name": ("Certified Entity Name",),
    "trading_name": ("Certified Entity Trading Name",),
    "english_name": ("Certified Entity English Name",),
    "confidential": ("Confidential Certified Entity", "Confidential"),
    "street": ("Street", "Business Registered Street", "Certified Entity Street", "Certified Entity Street Address"),
    "city": ("City", "Business Registered City", "Certified Entity City"),
    "state": ("State", "Business Registered State", "Certified Entity State"),
    "postcode": ("Zipcode/Postcode", "Zip Code", "Postcode", "Post Code", "Business Registered Zip Code",
                 "Certified Entity Zipcode/Postcode", "Certified Entity Post Code", "Certified Entity Postcode"),
    "country": ("Country/Economy", "Country", "Business Registered Country", "Business Registered Country/Economy",
                "Certified Entity Country", "Certified Entity Country/Economy"),
    "full_address": ("Full Address", "Business Registered Full Address", "Certified Entity Full Address"),
    "website": ("Certified Entity Website", "Website"),
    "business_registration_number": ("Business Registration Number",),
    "tax_id": ("Tax ID",),
    "company_id_number": ("Company ID Number",),
    "vat": ("VAT", "VAT Number"),
    "duns_number": ("DUNS Number", "DUNS"),
}
CERT_COLUMNS = {
    "identity": ("Certification Identity Number",),
    "number": ("Certificate Number",),
    "status": ("Certification Status",),
    "accreditation_status": ("Accreditation Status", "Certificate Accreditation Status"),
    "certification_type": ("Certification Type",),
    "scope": ("Certification Scope",),
    "flexible_scope": ("Flexible Scope",),
    "original_issue_date": ("Certification Original Issue Date",),
    "issue_date": ("Certification Issue Date",),
    "expiry_date": ("Certification Expiry Date",),
    "accreditation_body_name": ("Accreditation Body Name",),
    "accreditation_body_acronym": ("Accreditation Body Acronym", "Accreditation Body Acronym Name"),
    **ENTITY_COLUMNS,
}
SITE_COLUMNS = {
    "identity": ("Certification Identity Number",),
    "country": ("Site Country/Economy", "Site Country", "Country/Economy", "Country"),
    "street": ("Site Street", "Street"),
    "city": ("Site City", "City"),
    "state": ("Site State", "State"),
    "postcode": ("Site Zipcode/Postcode", "Site Postcode", "Zipcode/Postcode", "Postcode", "Zip Code"),
    "full_address": ("Site Full Address", "Full Address"),
    "site_scope": ("Site Scope",),
}
STANDARD_COLUMNS = {
    "identity": ("Certification Identity Number",),
    "scheme_name": ("Scheme Name",),
    "standard_name": ("Standard Name", "Standards Name"),
}
SECTOR_COLUMNS = {
    "identity": ("Certification Identity Number",),
    "sector_name": ("Sector Name",),
    "sector_code": ("Sector Code",),
}
ROLE_COLUMNS = {"entity": {k: v for k, v in ENTITY_COLUMNS.items()}, "certifications": CERT_COLUMNS,
                "sites": SITE_COLUMNS, "standards": STANDARD_COLUMNS, "sector": SECTOR_COLUMNS}
DATE_KEYS = ("original_issue_date", "issue_date", "expiry_date")

# Which column (key of the tables above) feeds which field of a cbcheck record. A column not
# named here is kept under the record's x-certsearch field: the entity's columns on the client
# (besides those below), and on the certificate the status term as written plus CERTIFICATE_EXTRAS.
CLIENT_FIELDS = {"entity_name": "name"}
CERTIFICATE_FIELDS = {"number": "number", "scope": "scope", "original_issue_date": "original_issue_date",
                      "issue_date": "issue_date", "expiry_date": "expiry_date"}
CERTIFICATE_EXTRAS = ("certification_type", "accreditation_status", "flexible_scope", "accreditation_body_name",
                      "accreditation_body_acronym")
# Certificate fields the template has no column for. The CB is the uploader, so no column names
# it; a renewal or revision is a new issue date on the same row, never a link to another one;
# the scope is one free text, not a list of services.
NOT_IN_SOURCE = ("cb_name", "replaces", "services")
# Where a refused date cell would have landed in the certificate, for problems about it.
_POINTERS = {("certifications", k): "/" + CERTIFICATE_FIELDS[k] if k in CERTIFICATE_FIELDS else "/x-certsearch/" + k
             for k in DATE_KEYS}
ADDRESS_KEYS = ("street", "city", "state", "postcode", "country")


@dataclass
class _Row:
    number: int
    origin: Origin
    cells: dict                  # key -> (value, Origin) for non-empty cells
    refused: bool = False
    bad: set = field(default_factory=set)      # keys of the cells refused


@dataclass
class _Sheet:
    role: str
    raw: RawSheet
    rows: list = field(default_factory=list)
    rows_read: int = 0
    empty_rows: int = 0
    refused: set = field(default_factory=set)

    def summary(self) -> dict:
        return {"sheet": self.raw.name, "role": self.role, "file": self.raw.label, "rows_read": self.rows_read,
                "empty_rows": self.empty_rows, "rows_refused": len(self.refused)}


def record_id(text: str) -> str:
    """A cbcheck id for a CertSearch key. Keys that are valid ids are kept; others (spaces,
    '/', '#', letters outside ASCII, all allowed by CertSearch) get a readable slug plus a
    hash of the original, so two different keys never end up with one id."""
    text = text.strip()
    if ID_RE.match(text):
        return text
    slug = re.sub(r"[^A-Za-z0-9._:-]+", "-", text).strip("-._:")[:100]
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}" if slug else f"id-{digest}"


@dataclass
class _Made:
    """What the rows became: records read whole, records held back because a row of theirs was
    refused (a bad status term, a bad date, a clash in their entity), and which records each
    row feeds, so a problem on a row withholds only them."""
    made: list = field(default_factory=list)
    held: list = field(default_factory=list)
    owners: dict = field(default_factory=dict)     # (sheet label, row) -> {record id}

    def implicated(self, problems: list[Problem]) -> dict:
        """Problem -> ids of the records (made or held) its row feeds; a problem on no such row
        (a header, a row tied to nothing) is left out: it concerns the whole register."""
        known = {b.data["id"] for b in self.made + self.held}
        out = {}
        for p in problems:
            ids = tuple(sorted(self.owners.get((p.file, p.line), set()) & known))
            if ids:
                out[p] = ids
        return out


def read_certsearch(path: Path, version: str | None = None, *, status_map: dict | None = None,
                    ignore_columns: tuple = ()) -> tuple[list[dict], list[Problem], dict]:
    """(client and certificate records, problems, summary) from a CertSearch upload workbook.

    version: one of VERSIONS, or None to detect it from the sheets. status_map: extra or
    overriding status terms, e.g. {"Inactive": "expired"}. ignore_columns: headers to skip
    deliberately (any other unknown column is a problem). Records with a refused row are left
    out (an import with any problem writes nothing)."""
    result, problems, summary = _import(Path(path), version, status_map or {}, ignore_columns)
    return [b.data for b in result.made], problems, summary


def load_certsearch(path: Path, version: str | None = None, *, status_map: dict | None = None,
                    ignore_columns: tuple = ()) -> ReadResult:
    """The same as the record reader's ReadResult, located at sheet and row. A record with a
    refused row is held in it, and every problem on a row names the records the row feeds
    (ReadResult.implicated), so a check withholds that client's partition and judges the rest."""
    result, problems, summary = _import(Path(path), version, status_map or {}, ignore_columns)
    return ReadResult([b.to_record() for b in result.made + result.held], problems, [Path(path).name],
                      summary["sheets_ignored"], result.implicated(problems))


def sheet_roles(names) -> dict:
    """Sheet name -> role, for the sheet names that are CertSearch sheets."""
    keys = {_key(alias): role for role, aliases in SHEET_ROLES.items() for alias in aliases}
    return {name: keys[_key(name)] for name in names if _key(name) in keys}


def detect_version(roles) -> str:
    roles = set(roles)
    if "sector" in roles:
        return "2.1"
    if "entity" in roles:
        return "2.0"
    return FLAT_LAYOUT


def is_certsearch_workbook(path: Path) -> bool:
    """True when an .xlsx workbook has a Certifications sheet whose header holds a
    Certification Identity Number column: the key of the CertSearch layout."""
    from openpyxl import load_workbook
    if workbook_refusal(path):
        return False      # the workbook reader refuses it, saying why
    try:
        book = load_workbook(path, read_only=True)
    except Exception:     # unreadable: not ours to judge here; the reader will say why
        return False
    try:
        for name, role in sheet_roles(book.sheetnames).items():
            if role == "certifications":
                header = next(book[name].iter_rows(min_row=1, max_row=1, values_only=True), ())
                if any(_key(h) == _key("Certification Identity Number") for h in header if h is not None):
                    return True
        return False
    finally:
        book.close()


def _import(path: Path, version, status_map: dict, ignore_columns) -> tuple[_Made, list[Problem], dict]:
    summary = {"source": path.name, "format": "certsearch", "version": None, "version_detected": None,
               "sheets": [], "sheets_ignored": [], "status_terms": {}, "records_made": {"client": 0, "certificate": 0}}
    problems: list[Problem] = []
    if version is not None and version not in VERSIONS:
        problems.append(Problem("--version", None, "", f"unknown CertSearch template version {version!r}",
                                "one of " + ", ".join(VERSIONS) + ", or none to detect it"))
    terms, map_problems = _status_table(status_map)
    problems += map_problems
    if not path.is_file():
        problems.append(Problem(str(path), None, "", "no such file", "a CertSearch .xlsx upload workbook"))
    if problems:
        return _Made(), sort_problems(problems), summary
    raws, problems, charts = read_workbook(path)
    if not raws and problems:
        return _Made(), sort_problems(problems), summary
    roles = sheet_roles([r.name for r in raws])
    sheets: dict = {}
    for raw in raws:
        role = roles.get(raw.name)
        if role is None:
            summary["sheets_ignored"].append(raw.name)   # instructions and lookup tabs of the template
            continue
        if role in sheets:
            problems.append(Problem(raw.label, None, "", f"a second {role} sheet (the first is {sheets[role].raw.name!r})",
                                    f"one {role} sheet per workbook"))
            continue
        sheets[role] = _Sheet(role, raw)
    summary["sheets_ignored"] += charts
    detected = detect_version(sheets)
    summary["version_detected"] = detected
    summary["version"] = version or detected
    if "certifications" not in sheets:
        problems.append(Problem(path.name, None, "", "no Certifications sheet; found sheets: "
                                + ", ".join(repr(r.name) for r in raws), "the CertSearch upload template's Certifications sheet"))
        return _Made(), sort_problems(problems), summary
    problems += _check_version(path.name, version, sheets)
    ignored = {_key(c) for c in ignore_columns}
    for sheet in sheets.values():
        _read_rows(sheet, ignored, problems)
    built = _build(sheets, terms, problems, summary)
    summary["sheets"] = [s.summary() for s in sheets.values()]
    summary["status_terms"] = dict(sorted(summary["status_terms"].items()))
    return built, sort_problems(problems), summary


def _status_table(status_map: dict) -> tuple[dict, list[Problem]]:
    table = dict(STATUS_TERMS)
    table.update((normalize(term), ours) for term, ours in status_map.items())
    return table, status_problems(status_map, "status_map")


def _check_version(name: str, version, sheets: dict) -> list[Problem]:
    if version is None:
        return []
    found = ", ".join(s.raw.name for s in sheets.values())
    if version in ("2.0", "2.1") and "entity" not in sheets:
        return [Problem(name, None, "", f"declared template {version}, but there is no Certified Entity sheet "
                        f"(CertSearch sheets found: {found})", "the 2.x sheets, or the version the workbook has")]
    if version == "2.0" and "sector" in sheets:
        return [Problem(name, None, "", "declared template 2.0, but there is a Certification Sector sheet, "
                        "which came with 2.1", "version 2.1")]
    if version in ("legacy", "1.1") and "entity" in sheets:
        return [Problem(name, None, "", f"declared template {version}, but there is a Certified Entity sheet, "
                        "which came with 2.0", "version 2.0 or 2.1")]
    return []


@dataclass(frozen=True)
class _TemplateHeaders:
    """The header rules of a CertSearch sheet: its fixed columns (any alias, matched by
    _key), and the headers the caller chose to skip."""
    role: str
    lookup: dict              # _key(alias) -> column key, for every alias and the key itself (the XML name)
    ignored: frozenset

    def text(self, header) -> str:
        return str(header).strip()

    def blank(self, letter: str, header, first_filled: int | None):
        if isinstance(header, Unusable) or first_filled is not None:
            return f"column {letter} has values but no usable header", "the template's header in row 1"
        return None

    def repeated(self, letter: str, text: str, first_letter: str):
        return f"column {letter} {text!r} is the same field as column {first_letter}", "each field once per sheet"

    def classify(self, letter: str, text: str) -> Column:
        columns = ROLE_COLUMNS[self.role]
        key = self.lookup.get(_key(text))
        if key is not None:
            return Column(key, key)
        if _key(text) in self.ignored:
            return Column(None)
        return Column(None, refusal=(f"column {letter} {text!r} is not a column of the CertSearch {self.role} "
                                     "sheet; its values would be lost",
                                     "one of " + ", ".join(v[0] for v in columns.values())
                                     + f"; or skip it deliberately: --ignore-column '{text}' (or ignore_columns: "
                                       "in the CertSearch mapping file)"))


def _read_rows(sheet: _Sheet, ignored: set, problems: list):
    raw = sheet.raw
    lookup = {_key(alias): k for k, aliases in ROLE_COLUMNS[sheet.role].items() for alias in (k,) + aliases}
    targets, header_ok = resolve_headers(raw, _TemplateHeaders(sheet.role, lookup, frozenset(ignored)), problems)
    for number, cells in raw.rows:
        sheet.rows_read += 1
        if all(is_empty(c) for c in cells):
            sheet.empty_rows += 1
            continue
        row = _Row(number, Origin(raw.label, number), {}, not header_ok)
        for idx, (key, text) in targets.items():
            value = cells[idx - 1] if idx <= len(cells) else None
            if not is_empty(value):
                _read_cell(row, key, Origin(raw.label, number, column_letter(idx), text, value), sheet, problems)
        if row.refused:
            sheet.refused.add(number)
        sheet.rows.append(row)


def _read_cell(row: _Row, key: str, origin: Origin, sheet: _Sheet, problems: list):
    """One non-empty cell into row.cells (dates converted, text trimmed), or refused."""
    value = origin.raw
    if isinstance(value, Unusable):
        problems.append(origin.problem("", "the cell is " + value.reason))
        row.refused = True
        row.bad.add(key)
        return
    spec = _DATE if key in DATE_KEYS else _TEXT
    try:
        converted = convert_cell(value, spec, _DATES, None, sheet.raw.epoch)
    except Refused as exc:
        expected = ("a date written YYYYMMDD, as CertSearch requires, or a date cell" if spec is _DATE
                    else exc.expected)
        problems.append(origin.problem(_POINTERS.get((sheet.role, key), ""), exc.message, expected))
        row.refused = True
        row.bad.add(key)
        return
    row.cells[key] = (converted.strip() if spec is _TEXT else converted, origin)


def _compose_address(cells: dict) -> str | None:
    if "full_address" in cells:
        return cells["full_address"][0]
    parts = [cells[k][0] for k in ADDRESS_KEYS if k in cells]
    return ", ".join(parts) if parts else None


def _extras(cells: dict, keys) -> dict:
    return {k: cells[k][0] for k in keys if k in cells}


class _Entities:
    """Certified entities, from the entity sheet and/or the certification rows (flat layout);
    the same entity told differently in two places is a problem, not a pick."""

    FIELDS = tuple(k for k in ENTITY_COLUMNS if k != "entity_id")

    def __init__(self):
        self.by_key: dict = {}           # original unique id -> {"cells", "origin", "refused", "own_row"}

    def add(self, unique_id: str, cells: dict, origin: Origin, refused: bool, problems: list, own_row: bool):
        """own_row: the row is the entity's own (entity sheet); else a certificate row that
        repeats the entity's columns (flat layout), where only a refused entity cell refuses it."""
        entry = self.by_key.get(unique_id)
        if entry is None:
            self.by_key[unique_id] = {"cells": {k: cells[k] for k in self.FIELDS if k in cells}, "origin": origin,
                                      "refused": refused, "own_row": own_row}
            return
        if own_row and entry["own_row"]:
            problems.append(origin.problem("", f"Certified Entity Unique ID {unique_id!r} again; first on "
                                               f"{entry['origin'].file} row {entry['origin'].row}", "each entity once"))
            entry["refused"] = True
            return
        entry["refused"] = entry["refused"] or refused
        for k in self.FIELDS:
            if k not in cells:
                continue
            if k in entry["cells"] and entry["cells"][k][0] != cells[k][0]:
                first = entry["cells"][k][1]
                problems.append(cells[k][1].problem("", f"entity {unique_id!r} has {first.header!r} "
                                                        f"{entry['cells'][k][0]!r} on {first.file} row {first.row}",
                                                    "the same value wherever the entity appears"))
                entry["refused"] = True
            else:
                entry["cells"].setdefault(k, cells[k])


def _build(sheets: dict, terms: dict, problems: list, summary: dict) -> _Made:
    entities = _Entities()
    if "entity" in sheets:
        for row in sheets["entity"].rows:
            if "entity_id" not in row.cells:
                problems.append(row.origin.problem("", "no Certified Entity Unique ID; the entity cannot be tied to "
                                                       "its certificates", "the entity's unique ID"))
                sheets["entity"].refused.add(row.number)
                continue
            entities.add(row.cells["entity_id"][0], row.cells, row.origin, row.refused, problems, own_row=True)
    children = _children_by_identity(sheets, problems)
    certs = _certificate_rows(sheets, entities, problems)
    clients = {unique_id: (_client(unique_id, entry), entry["refused"]) for unique_id, entry in entities.by_key.items()}
    result = _Made(owners=_row_owners(sheets, children))

    for row in certs:
        client, entity_refused = clients[row.cells["entity_id"][0]]
        b, refused = _certificate(row, client, entity_refused, terms, children, problems, summary)
        if refused:
            sheets["certifications"].refused.add(row.number)
        if b is not None:
            (result.held if refused else result.made).append(b)
    summary["records_made"]["certificate"] = len(result.made)
    _orphan_children(sheets, children, problems)

    cert_ids = {b.data["id"] for b in result.made + result.held}
    for b, refused in clients.values():
        if b.data["id"] in cert_ids:
            problems.append(b.origin.problem("/id", f"the entity's id {b.data['id']!r} is also a certificate's id",
                                             "ids unique across the whole input"))
            continue
        errs = [] if refused else b.validate()   # a refused entity's own rows said why
        problems += errs
        if not errs:
            (result.held if refused else result.made).append(b)
    result.made.sort(key=lambda b: b.data["type"] != "client")
    summary["records_made"]["client"] = sum(b.data["type"] == "client" for b in result.made)
    return result


def _orphan_children(sheets: dict, children: dict, problems: list):
    """Sites, standards and sector rows naming a certificate the Certifications sheet lacks."""
    identities = {row.cells["identity"][0] for row in sheets["certifications"].rows if "identity" in row.cells}
    for role, groups in children.items():
        for identity, rows in groups.items():
            if identity in identities:
                continue
            for row in rows:
                problems.append(row.cells["identity"][1].problem("", "no certificate with this identity number on the "
                                                                     "Certifications sheet",
                                                                 "the identity number of a Certifications row"))
                sheets[role].refused.add(row.number)


def _row_owners(sheets: dict, children: dict) -> dict:
    """(sheet label, row) -> ids of the client and certificate records the row feeds: an entity
    row its client; a certification row its certificate and its entity's client; a site,
    standard or sector row those of the certification row it names (the first one)."""
    owners: dict = {}
    if "entity" in sheets:
        for row in sheets["entity"].rows:
            if "entity_id" in row.cells:
                owners[(row.origin.file, row.number)] = {record_id(row.cells["entity_id"][0])}
    by_identity: dict = {}
    for row in sheets["certifications"].rows:
        ids = ({record_id(row.cells["entity_id"][0])} if "entity_id" in row.cells else set()) | (
            {record_id(row.cells["identity"][0])} if "identity" in row.cells else set())
        owners[(row.origin.file, row.number)] = ids
        if "identity" in row.cells and "entity_id" in row.cells:
            by_identity.setdefault(row.cells["identity"][0], ids)
    for groups in children.values():
        for identity, rows in groups.items():
            for row in rows:
                owners[(row.origin.file, row.number)] = by_identity.get(identity, set())
    return owners


def _children_by_identity(sheets: dict, problems: list) -> dict:
    """Sites, standards and sector rows grouped by the certificate they belong to."""
    children = {role: {} for role in ("sites", "standards", "sector")}
    for role in children:
        for row in sheets[role].rows if role in sheets else []:
            if "identity" not in row.cells:
                problems.append(row.origin.problem("", "no Certification Identity Number; the row cannot be tied to "
                                                       "its certificate", "the certificate's identity number"))
                sheets[role].refused.add(row.number)
                continue
            children[role].setdefault(row.cells["identity"][0], []).append(row)
    return children


def _certificate_rows(sheets: dict, entities: _Entities, problems: list) -> list:
    """The certification rows that can become certificates: keyed, once, tied to an entity
    (whose columns a flat-layout row also carries)."""
    sheet, rows, seen = sheets["certifications"], [], {}
    for row in sheet.rows:
        if "identity" not in row.cells:
            problems.append(row.origin.problem("", "no Certification Identity Number, the key of a CertSearch certificate",
                                               "the certificate's identity number"))
            sheet.refused.add(row.number)
            continue
        identity = row.cells["identity"][0]
        if identity in seen:
            problems.append(row.cells["identity"][1].problem("/id", f"identity number again; first on row {seen[identity]}",
                                                             "each certificate once"))
            sheet.refused.add(row.number)
            continue
        seen[identity] = row.number
        if "entity_id" not in row.cells:
            problems.append(row.origin.problem("/client", "no Certified Entity Unique ID: the certificate cannot be tied "
                                                          "to its certified organisation",
                                               "the Certified Entity Unique ID column filled in"))
            sheet.refused.add(row.number)
            continue
        unique_id = row.cells["entity_id"][0]
        inline = any(k in row.cells for k in _Entities.FIELDS)
        if "entity" in sheets and unique_id not in entities.by_key and not inline:
            problems.append(row.cells["entity_id"][1].problem("/client", "no row with this ID on the Certified Entity sheet",
                                                              "the ID of a Certified Entity row"))
            sheet.refused.add(row.number)
            continue
        # A refused cell elsewhere in the row (a bad date) refuses the certificate, not its entity.
        entities.add(unique_id, row.cells, row.origin, bool(row.bad & set(ENTITY_COLUMNS)), problems, own_row=False)
        rows.append(row)
    return rows


def _client(unique_id: str, entry: dict) -> Built:
    cells = entry["cells"]
    data = {"type": "client", "id": record_id(unique_id)}
    origins = {"/id": entry["origin"]}
    for key, name in CLIENT_FIELDS.items():
        if key in cells:
            data[name], origins["/" + name] = cells[key]
    address = _compose_address(cells)
    if address:
        data["address"] = address
    data["x-certsearch"] = {"unique_id": unique_id,
                            **_extras(cells, [k for k in _Entities.FIELDS if k not in CLIENT_FIELDS])}
    return Built(data, entry["origin"], origins)


def _certificate(row: _Row, client: Built, entity_refused: bool, terms: dict, children: dict, problems: list,
                 summary: dict) -> tuple[Built | None, bool]:
    identity = row.cells["identity"][0]
    data = {"type": "certificate", "id": record_id(identity), "client": client.data["id"]}
    origins = {"/id": row.cells["identity"][1], "/client": row.cells["entity_id"][1]}
    refused = row.refused
    extra = {"identity_number": identity}
    for key, name in CERTIFICATE_FIELDS.items():
        if key in row.cells:
            data[name], origins["/" + name] = row.cells[key]
    if "status" in row.cells:
        term, origin = row.cells["status"]
        ours, why = _status(term, terms)
        extra["status"] = term
        if ours is None:
            problems.append(origin.problem("/status", why, f"one of {CERTSEARCH_STATUSES}, or the term mapped: "
                                           f"--status-map '{term}=STATUS' (STATUS active, suspended, withdrawn, "
                                           "expired or superseded), or status_map: in the CertSearch mapping file"))
            refused = True
        else:
            data["status"], origins["/status"] = ours, origin
            label = f"{term} -> {ours}"
            summary["status_terms"][label] = summary["status_terms"].get(label, 0) + 1
    extra.update(_extras(row.cells, CERTIFICATE_EXTRAS))
    refused |= _children(data, extra, origins, identity, children, problems, row)
    _register_fields(data, origins, client)
    data["x-certsearch"] = extra
    if entity_refused:
        problems.append(row.origin.problem("/client", f"certificate not made: its certified entity "
                                                      f"{row.cells['entity_id'][0]!r} was refused (see the problems "
                                                      "on its rows)", "the entity's rows readable"))
        refused = True
    b = Built(data, row.origin, origins)
    errs = b.validate()
    problems += errs
    # A refused row's certificate (what of it could be read) is held for the check to withhold;
    # one that breaks its schema is not (its problems then concern the whole register).
    return (None if errs else b), refused or bool(errs)


def _register_fields(data: dict, origins: dict, client: Built):
    """The certificate fields the register states elsewhere than on the certificate's row, those
    the importer derives, and the list of those it cannot carry (see the module's docstring)."""
    for ours, theirs in (("client_name", "name"), ("client_address", "address")):
        if theirs in client.data:
            data[ours], origins["/" + ours] = client.data[theirs], client.origin_of("/" + theirs)
    derived = {}       # field -> (value, pointer of the value it comes from)
    if "issue_date" in data:
        derived["effective_date"] = (data["issue_date"], "/issue_date")
    if "name" in client.data:
        derived["service_provider"] = (client.data["name"], "/client_name")
    if data.get("sites"):
        derived["service_locations"] = (list(data["sites"]), "/sites")
    for name, (value, source) in derived.items():
        data[name] = value
        origins.update({"/" + name + p[len(source):]: o for p, o in origins.items()
                        if p == source or p.startswith(source + "/")})
    if derived:
        data["x-derived"] = list(derived)
    data["x-not-in-source"] = sorted(NOT_IN_SOURCE + (() if "effective_date" in derived else ("effective_date",)))


def _status(term: str, terms: dict) -> tuple[str | None, str]:
    key = normalize(term)
    if key in terms:
        return terms[key], ""
    if key in NO_EQUIVALENT:
        return None, NO_EQUIVALENT[key] + "; say what it means for your CB with --status-map (or status_map)"
    return None, f"not a CertSearch certification status (those are {CERTSEARCH_STATUSES})"


def _children(data: dict, extra: dict, origins: dict, identity: str, children: dict, problems: list,
              cert_row: _Row) -> bool:
    """Sites, standards and sectors of one certificate; True when one of their rows was refused."""
    refused = False
    for role, groups in children.items():
        for row in groups.get(identity, []):
            if row.refused:
                problems.append(cert_row.origin.problem("", f"certificate not made: its {role} row {row.number} "
                                                            f"on {row.origin.file} was refused",
                                                        "every row of the certificate readable"))
                refused = True
    if refused:
        return True
    site_rows = children["sites"].get(identity, [])
    if site_rows:
        sites = []
        for row in site_rows:
            address = _compose_address(row.cells)
            if address:
                origins[f"/sites/{len(sites)}"] = row.origin
                sites.append(address)
        if sites:
            data["sites"] = sites
        extra["sites"] = [_extras(r.cells, ("full_address",) + ADDRESS_KEYS + ("site_scope",)) for r in site_rows]
    std_rows = children["standards"].get(identity, [])
    if std_rows:
        names = []
        for row in std_rows:
            name = row.cells.get("standard_name", (None,))[0]
            if name and name not in names:
                names.append(name)
        if names:
            # One certificate can cover several standards; cbcheck's `standard` is one text.
            data["standard"] = "; ".join(names)
            origins["/standard"] = std_rows[0].cells.get("standard_name", (None, std_rows[0].origin))[1]
        extra["standards"] = [_extras(r.cells, ("scheme_name", "standard_name")) for r in std_rows]
    sector_rows = children["sector"].get(identity, [])
    if sector_rows:
        extra["sectors"] = [_extras(r.cells, ("sector_name", "sector_code")) for r in sector_rows]
    return False
