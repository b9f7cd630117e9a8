"""The registry: every derived value, in the order they are computed, and the two passes that
compute them (per partition, and once over every client for CB-wide kinds)."""
from __future__ import annotations

from checker.derive import audit_time, register, report_content, sampling, scope_text, site_pattern, team_time
from checker.derive.cycle import CERTIFIED_YEAR
from checker.derive.involvement import APPEAL_INVOLVEMENT, COMPLAINT_INVOLVEMENT
from checker.derive.model import DerivedField, DerivedKind, Records, with_fields
from checker.derive.practice import AUDIT_TIME_PRACTICE
from checker.derive.remote import REMOTE_ACTIVITIES_NONE
from checker.derive.site_pattern import SURVEILLANCE_SITE_YEAR
from checker.derive.team_members import MEMBER
from checker.derive.withdrawal import AFTER_WITHDRAWAL

FIELDS: tuple[DerivedField, ...] = (audit_time.FIELDS + team_time.FIELDS + sampling.FIELDS
                                    + (MEMBER, AFTER_WITHDRAWAL, REMOTE_ACTIVITIES_NONE)
                                    + site_pattern.FIELDS + report_content.FIELDS + register.FIELDS
                                    + scope_text.FIELDS)
# FIELDS by the record type they sit on, in FIELDS' order: derive() looks each record's up.
_FIELDS_ON: dict[str, tuple[DerivedField, ...]] = {on: tuple(e for e in FIELDS if e.on == on) for on in {e.on for e in FIELDS}}
KINDS: tuple[DerivedKind, ...] = (CERTIFIED_YEAR, AUDIT_TIME_PRACTICE, APPEAL_INVOLVEMENT, COMPLAINT_INVOLVEMENT,
                                  SURVEILLANCE_SITE_YEAR, register.SHARED_CERTIFICATE_NUMBER)
REGISTRY: dict[str, DerivedField | DerivedKind] = {entry.key: entry for entry in FIELDS + KINDS}
DERIVED_KINDS: dict[str, DerivedKind] = {kind.name: kind for kind in KINDS}
# Fact kinds and record types whose derived values move with the year of --as-of.
AS_OF_YEAR_DEPENDENT = frozenset(kind.name for kind in KINDS if kind.as_of == "year") | frozenset(
    field.on for field in FIELDS if field.as_of == "year")
# The record types the CB-wide kinds read over every client: each reads the type it is located
# in (audit_time_practice: the application reviews). A client record of one of these types with
# input errors withholds the CB-wide partition (engine/driver.py).
CB_WIDE_INPUTS = frozenset(kind.located_in for kind in KINDS if kind.scope == "cb")
CB_WIDE_KINDS: tuple[DerivedKind, ...] = tuple(kind for kind in KINDS if kind.scope == "cb")
_CB_WIDE_NAMES = frozenset(kind.name for kind in CB_WIDE_KINDS)


def derived_entry(kind: str, field: str) -> DerivedField | DerivedKind | None:
    """The registry entry a rule reads when it names `field` of fact kind `kind`, if any."""
    if kind in DERIVED_KINDS:
        return DERIVED_KINDS[kind]
    return REGISTRY.get(f"{kind}.{field}")


def derive(records: list[dict], params: dict, as_of_year: int) -> tuple[list[dict], list[dict]]:
    """One partition's records with their derived fields (copies where a value was added; the
    inputs are never changed), and the pseudo-records of the per-partition derived kinds.

    Pseudo-records carry `id`, `type` and `_source` (id of the record a finding should name).
    """
    seen = Records(records, params, as_of_year)
    enriched = [with_fields(rec, _FIELDS_ON[rec["type"]], seen) if rec["type"] in _FIELDS_ON else rec
                for rec in records]
    pseudo = [p for kind in KINDS if kind.scope == "client" for p in kind.compute(seen)]
    return enriched, pseudo


def derive_cb_wide(records: list[dict], params: dict) -> list[dict]:
    """Pseudo-records of the CB-wide derived kinds, computed over every client at once (for the
    CB-wide partition)."""
    seen = Records(records, params)
    return [p for kind in CB_WIDE_KINDS for p in kind.compute(seen)]


def cb_shares(records: list[dict], params: dict) -> dict[str, object]:
    """What `records` (one client's, or the CB-wide records) give each CB-wide kind, by its
    name: plain values (model.CbWide.share)."""
    seen = Records(records, params)
    return {kind.name: kind.cb.share(seen) for kind in CB_WIDE_KINDS}


def cb_share_ids(shares) -> list[str] | None:
    """The ids of the records `shares` (cb_shares' value, as a cache entry gives it back)
    name, or None when it is not such a value."""
    if not (type(shares) is dict and shares.keys() == _CB_WIDE_NAMES):
        return None
    ids = []
    for kind in CB_WIDE_KINDS:
        named = kind.cb.share_ids(shares[kind.name])
        if named is None:
            return None
        ids += named
    return ids


class CbWideTally:
    """The CB-wide kinds' pseudo-records added up client by client (model.CbTally, one per
    kind): `add` each partition's cb_shares, then `finish` with a reader of the shares of the
    partitions `wanted()` names. derive_cb_wide's value, without every record at once."""

    def __init__(self, params: dict):
        self.tallies = [(kind.name, kind.cb.tally(params)) for kind in CB_WIDE_KINDS]

    def add(self, sid: str, shares: dict[str, object]):
        for name, tally in self.tallies:
            tally.add(sid, shares[name])

    def wanted(self) -> set[str]:
        return {sid for _name, tally in self.tallies for sid in tally.wanted()}

    def finish(self, read) -> list[dict]:
        """The pseudo-records, in the kinds' order. `read(sids)` gives (sid, shares) of each of
        `sids`, in sid order."""
        wanted = self.wanted()
        again = list(read(sorted(wanted))) if wanted else []
        pseudo = []
        for name, tally in self.tallies:
            mine = tally.wanted()
            pseudo += tally.finish((sid, shares[name]) for sid, shares in again if sid in mine)
        return pseudo
