"""Who was involved in the matter an appeal or complaint is about (17021-1 9.7, 9.8), derived
from the records the CB already keeps rather than from its own `persons_involved` list alone.

An appeal or complaint may name the decision, the audit and the person it concerns. The people
involved are then: those the CB lists in `persons_involved`; the person it concerns; everyone
who took the decision it concerns; every member of the team of the audit it concerns, and of
the audit that decision rests on (team assignments naming a person: an external observer is
not the CB's and is not counted); and whoever carried out the latest application review of the
client dated on or before that audit's start (the decision's date where no audit is known).
One pseudo-record per matter and person, saying every way that person was involved.
"""
from __future__ import annotations

from checker.derive.model import DerivedKind
from checker.records.schema_registry import FieldInfo

MATTER_TYPES = ("appeal", "complaint")


def _index(by_type: dict[str, list[dict]], kind: str) -> dict[str, dict]:
    return {rec["id"]: rec for rec in by_type.get(kind, [])}


def _team(by_type: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """audit id -> its team assignments that name one of the CB's people."""
    out: dict[str, list[dict]] = {}
    for ta in by_type.get("team_assignment", []):
        if ta.get("person") and ta.get("audit"):
            out.setdefault(ta["audit"], []).append(ta)
    return out


def _reviewer_of(by_type: dict[str, list[dict]], client: str | None, before: str | None) -> dict | None:
    """The client's latest dated application review on or before `before`, if any."""
    if not client or not before:
        return None
    applications = {a["id"] for a in by_type.get("application", []) if a.get("client") == client}
    reviews = [r for r in by_type.get("application_review", [])
               if r.get("application") in applications and r.get("reviewed_by")
               and r.get("date") and r["date"] <= before]
    return max(reviews, key=lambda r: (r["date"], r["id"]), default=None)


def _routes(matter: dict, by_type: dict[str, list[dict]]) -> dict[str, list[str]]:
    """person id -> the ways they were involved in `matter`, in a fixed order."""
    routes: dict[str, list[str]] = {}

    def add(person, how):
        if person and how not in routes.setdefault(person, []):
            routes[person].append(how)

    for person in matter.get("persons_involved") or []:
        add(person, "listed by the CB among the people involved")
    add(matter.get("person"), f"the person the {matter['type']} is about")
    decision = _index(by_type, "decision").get(matter.get("decision") or "")
    for person in (decision or {}).get("decided_by") or []:
        add(person, f"took decision {decision['id']}")
    audits = _index(by_type, "audit")
    audit_ids = [a for a in (matter.get("audit"), (decision or {}).get("audit")) if a in audits]
    team = _team(by_type)
    for audit_id in dict.fromkeys(audit_ids):
        for ta in sorted(team.get(audit_id, []), key=lambda t: t["id"]):
            add(ta["person"], f"was on the team of audit {audit_id} as {ta.get('role')}")
    started = [audits[a].get("start_date") for a in audit_ids if audits[a].get("start_date")]
    before = min(started) if started else (decision or {}).get("date")
    review = _reviewer_of(by_type, matter.get("client"), before)
    if review:
        add(review["reviewed_by"], f"carried out application review {review['id']}")
    return routes


def _involvements(kind: str, by_type: dict[str, list[dict]]) -> list[dict]:
    """`<kind>_involvement` pseudo-records {<kind>, person, client, through}: one per matter of
    type `kind` and person involved in it, located on the matter."""
    out = []
    for matter in sorted(by_type.get(kind, []), key=lambda m: m["id"]):
        for person, ways in sorted(_routes(matter, by_type).items()):
            record = {"id": f"{matter['id']}#involved#{person}", "type": f"{kind}_involvement",
                      "_source": matter["id"], kind: matter["id"], "person": person, "through": "; ".join(ways)}
            if matter.get("client"):
                record["client"] = matter["client"]
            out.append(record)
    return out


def _kind(matter: str) -> DerivedKind:
    return DerivedKind(
        f"{matter}_involvement", matter, "client",
        {matter: FieldInfo("string", ref=matter), "person": FieldInfo("string", ref="personnel"),
         "client": FieldInfo("string", ref="client"), "through": FieldInfo("string")},
        f"one per {matter} and person the records show was involved in its subject: listed in persons_involved, "
        f"the person it names, a decider of the decision it names, a member of the team of the audit it names or "
        f"of that decision's audit, or the reviewer of the client's latest application review dated on or before "
        f"that audit's start (the decision's date where no audit is known); `through` says every way", (),
        lambda records: _involvements(matter, records.by_type))


APPEAL_INVOLVEMENT, COMPLAINT_INVOLVEMENT = _kind("appeal"), _kind("complaint")
