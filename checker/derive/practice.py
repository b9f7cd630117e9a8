"""How the CB applies the SM 9.1.4 reduction cap across all its clients (TIME006): reviews
that list reductions beyond the cap and then land on it. Computed once over every client's
records, for the CB-wide partition. The fact exists whenever some review has a derivable
deviation, so a CB none of whose reviews claims beyond the cap has a practice that was judged
(and is clean), not nothing to judge (checker/catalog/evidence.py: what a rule applies to).
Each client's reviews give it five values (_share), added up over the clients (_Tally): a
run keeps no review for it."""
from __future__ import annotations

from checker.derive import audit_time
from checker.derive.model import CbWide, DerivedKind, Records, tallied, with_fields
from checker.records.schema_registry import FieldInfo

CAP = "sm_max_audit_time_reduction_percent"
TOLERANCE = "sm_cap_landing_tolerance_points"


def _share(records: Records) -> list:
    """[reviews with a derivable deviation, of them those whose listed reductions exceed the cap,
    of those the ones landing on it, the least id of the first kind, of the second]: what the
    practice needs of one client's reviews."""
    judged = beyond = capped = 0
    first_judged = first_beyond = None
    for rec in records.of_type("application_review"):
        at = with_fields(rec, audit_time.FIELDS, records).get("audit_time")
        if not isinstance(at, dict) or "deviation_percent" not in at:
            continue
        judged += 1
        first_judged = rec["id"] if first_judged is None else min(first_judged, rec["id"])
        if at["adjustments_reduction_percent"] > records.params[CAP]:
            beyond += 1
            first_beyond = rec["id"] if first_beyond is None else min(first_beyond, rec["id"])
            capped += abs(at["reduction_percent"] - records.params[CAP]) <= records.params[TOLERANCE]
    return [judged, beyond, capped, first_judged, first_beyond]


def _share_ids(share) -> list[str] | None:
    # A cache entry's share, checked once a reused client a night: one test per value, no
    # generator (10,000 clients).
    if not (type(share) is list and len(share) == 5):
        return None
    judged, beyond, capped, first_judged, first_beyond = share
    if not (type(judged) is int and type(beyond) is int and type(capped) is int and judged >= beyond >= capped >= 0
            and (first_judged is None or type(first_judged) is str) and (judged > 0) == (first_judged is not None)
            and (first_beyond is None or type(first_beyond) is str) and (beyond > 0) == (first_beyond is not None)):
        return None
    return [i for i in (first_judged, first_beyond) if i is not None]


class _Tally:
    """The counts added up, and the least review id of each kind."""

    def __init__(self, _params: dict):
        self.counts = [0, 0, 0]
        self.first: list[str | None] = [None, None]     # judged, beyond

    def add(self, _sid: str, share: list):
        self.counts = [total + n for total, n in zip(self.counts, share)]
        self.first = [mine if least is None else least if mine is None else min(least, mine)
                      for least, mine in zip(self.first, share[3:])]

    def wanted(self) -> set[str]:
        return set()

    def finish(self, _shares) -> list[dict]:
        judged, beyond, capped = self.counts
        if not judged:
            return []
        source = self.first[1] if self.first[1] is not None else self.first[0]
        return [{"id": "cb#audit_time_practice", "type": "audit_time_practice", "_source": source,
                 "reviews": judged, "claimed_beyond_cap": beyond, "capped": capped}]


CB = CbWide(_share, _share_ids, _Tally)


AUDIT_TIME_PRACTICE = DerivedKind(
    "audit_time_practice", "application_review", "cb",
    {"reviews": FieldInfo("integer"), "claimed_beyond_cap": FieldInfo("integer"), "capped": FieldInfo("integer")},
    "over all clients: reviews with a derivable deviation from Table 1 (`reviews`), those whose listed reductions "
    "exceed the cap (`claimed_beyond_cap`), and of those the ones whose net reduction lands on the cap within the "
    "tolerance (`capped`); one fact, located on the first review claiming beyond the cap (else the first review "
    "counted), when some review has a derivable deviation",
    (audit_time.TABLE, CAP, TOLERANCE), tallied(CB), cb=CB)
