"""What an accreditation body reads off a CB's certificate register (IAF CertSearch upload, or
the certificate records of any source) that the check language cannot say directly.

- `certificate.cycle_expiry_limit`: the latest expiry a certificate's own dates allow. The
  cycle (17021-1 9.1.3.2) is `cycle_years` from the initial certification, and a renewal's
  expiry runs on from the previous expiry (9.6.3.2.3; a restoration keeps the prior cycle,
  9.6.3.2.5), so every expiry falls on a cycle boundary counted from the original issue date,
  O + k cycles. A certificate may run at most one cycle past the boundary nearest its issue
  date: an initial certificate (issued on its original issue date) one cycle from its issue;
  a renewal, issued shortly before the old expiry or restored months after it, one cycle past
  that expiry; a revision in the first half of a cycle keeps the cycle's expiry. A register
  that states no original issue date gives no value (records that link a renewal to its
  predecessor with `replaces` are judged exactly by CRT003/CRT004).
- `certificate.superseded_edition` and `certificate.edition_transition_end`: the first edition
  the certificate's `standard` names that the parameter `standard_edition_transitions` lists as
  replaced, and the last day of its transition (IAF transition resolutions).
- `shared_certificate_number` (CB-wide): a certificate number that certificates of two or more
  clients carry; renewals of one client often keep their number, so only other clients count.
"""
from __future__ import annotations

import re
from array import array

from checker.dates import date_or_none
from checker.derive.cycle import add_years
from checker.derive.model import CbWide, DerivedField, DerivedKind, Records, tallied
from checker.records.schema_registry import FieldInfo

CYCLE = "cycle_years"
TRANSITIONS = "standard_edition_transitions"
# "ISO/IEC 20000-1:2011", "ISO 20000-1:2011", "iso/iec 20000-1 : 2011" -> ("20000-1", "2011").
_EDITION = re.compile(r"(\d{3,5}(?:-\d+)*)\s*:\s*(\d{4})")


def edition_keys(text: str) -> list[tuple[str, str]]:
    """(document number, year) of every edition a standard's text names, in order."""
    return _EDITION.findall(text) if isinstance(text, str) else []


def _cycle_expiry_limit(cert: dict, records: Records):
    first, issued = date_or_none(cert.get("original_issue_date")), date_or_none(cert.get("issue_date"))
    if first is None or issued is None or first > issued:
        return None
    years = records.params[CYCLE]

    def distance(k: int) -> int:
        return abs((add_years(first, years * k) - issued).days)
    k = 0          # the cycle boundary nearest the issue date (ties: the later one)
    while distance(k + 1) <= distance(k):
        k += 1
    return add_years(first, years * (k + 1)).isoformat()


def _transitions(records: Records) -> dict:
    """(document number, year) -> the parameter's row, for every edition it lists."""
    return {key: row for row in records.params[TRANSITIONS] for key in edition_keys(row["edition"])[:1]}


def _transition(cert: dict, records: Records):
    keys = edition_keys(cert.get("standard"))
    table = records.shared("edition_transitions", _transitions) if keys else {}
    return next((table[key] for key in keys if key in table), None)


def _superseded_edition(cert: dict, records: Records):
    row = _transition(cert, records)
    return f"{row['edition']} (replaced by {row['replaced_by']})" if row else None


def _edition_transition_end(cert: dict, records: Records):
    row = _transition(cert, records)
    return row["transition_end"] if row else None


def _number_key(number) -> str | None:
    return re.sub(r"\s+", "", number).casefold() if isinstance(number, str) and number.strip() else None


def _share(records: Records) -> list[list[str]]:
    """[number key, client, id, number] of each certificate with a number and a client, in order."""
    return [[key, cert["client"], cert["id"], cert["number"]] for cert in records.of_type("certificate")
            if (key := _number_key(cert.get("number"))) is not None and isinstance(cert.get("client"), str)]


def _share_ids(share) -> list[str] | None:
    # A cache entry's share, checked once a reused client a night: one test per value, no
    # generator per row (10,000 clients).
    if type(share) is not list:
        return None
    for row in share:
        if not (type(row) is list and len(row) == 4 and type(row[0]) is str and type(row[1]) is str
                and type(row[2]) is str and type(row[3]) is str):
            return None
    return [row[2] for row in share]


class _Tally:
    """Which numbers certificates of two or more clients carry, found in two steps so that a
    run keeps one small entry per certificate, not the certificates: `add` keeps each number's
    hash (in an array) and the partition it came from (its sid, the string the caller holds
    anyway), and the client only when it is not the partition's own; `wanted` finds once the
    hashes met with a second client, and `finish` reads again the shares of the partitions that
    hold one and groups their certificates by the numbers themselves (two numbers with one hash
    are then two groups: a hash only chooses which partitions to read). (A dict of each hash to
    its first client took about 130 bytes a certificate: 3.3 MB at 25,000 clients.)"""

    def __init__(self, _params: dict):
        self.hashes = array("q")
        self.sids: list[str] = []                   # the partition of each hash
        self.clients: dict[int, str] = {}           # entry -> its client, when not its partition's
        self._several: set[int] | None = None       # hashes met with two clients or more, once asked for

    def add(self, sid: str, share: list[list[str]]):
        for key, client, _rid, _number in share:
            if client != sid:
                self.clients[len(self.sids)] = client
            self.hashes.append(hash(key))
            self.sids.append(sid)
        self._several = None

    def several(self) -> set[int]:
        if self._several is None:
            first_client: dict[int, str] = {}
            self._several = set()
            for k, (h, sid) in enumerate(zip(self.hashes, self.sids)):
                client = self.clients.get(k, sid)
                if first_client.setdefault(h, client) != client:
                    self._several.add(h)
        return self._several

    def wanted(self) -> set[str]:
        several = self.several()
        return {sid for h, sid in zip(self.hashes, self.sids) if h in several} if several else set()

    def finish(self, shares) -> list[dict]:
        several = self.several()
        by_number: dict[str, list[tuple[str, str, str]]] = {}
        for _sid, share in shares:
            for key, client, rid, number in share:
                if hash(key) in several:
                    by_number.setdefault(key, []).append((client, rid, number))
        out = []
        for key in sorted(by_number):
            certs = sorted(by_number[key], key=lambda c: (c[0], c[1]))
            clients = {c[0] for c in certs}
            if len(clients) < 2:
                continue
            _client, rid, number = certs[0]
            out.append({"id": f"cb#shared_certificate_number#{rid}", "type": "shared_certificate_number",
                        "_source": rid, "number": number, "clients": len(clients),
                        "certificates": ", ".join(f"{c[1]} ({c[0]})" for c in certs)})
        return out


CB = CbWide(_share, _share_ids, _Tally)


FIELDS = (
    DerivedField("cycle_expiry_limit", "certificate", FieldInfo("date"),
                 "the latest expiry the certificate's own dates allow: one cycle past the cycle boundary "
                 "(original_issue_date + k·cycle_years, k >= 0) nearest issue_date, so issue_date + cycle_years for "
                 "an initial certificate; absent without both dates or with issue_date before original_issue_date",
                 (CYCLE,), _cycle_expiry_limit),
    DerivedField("superseded_edition", "certificate", FieldInfo("string"),
                 "the first edition named in `standard` that standard_edition_transitions lists as replaced, with "
                 "its successor (editions matched by document number and year)", (TRANSITIONS,), _superseded_edition),
    DerivedField("edition_transition_end", "certificate", FieldInfo("date"),
                 "the last day of that edition's transition period (standard_edition_transitions)", (TRANSITIONS,),
                 _edition_transition_end),
)

SHARED_CERTIFICATE_NUMBER = DerivedKind(
    "shared_certificate_number", "certificate", "cb",
    {"number": FieldInfo("string"), "clients": FieldInfo("integer"), "certificates": FieldInfo("string")},
    "one per certificate number (compared without spaces, ignoring case) that certificates of two or more clients "
    "carry, located on the first of them (by client and id): how many clients, and every such certificate with its "
    "client", (), tallied(CB), population=False, cb=CB)
