"""Multi-site clients whose sites the CB does not sample (IAF MD 1, where sampling is not
appropriate; client `site_sampling: not_appropriate`): every site is audited at the initial
(stage 2) and recertification audits, and at least a share of the sites in each surveillance
year (SAM005, SAM006). The sites are those named on the audit's own client; an audit's `sites`
count only where they match a client site's name exactly."""
from __future__ import annotations

import datetime as dt
import math

from checker.dates import parse_date
from checker.derive.model import DerivedField, DerivedKind, Records
from checker.derive.sampling import SAMPLE_FACTOR
from checker.records.schema_registry import FieldInfo

SHARE = "md1_unsampled_surveillance_site_percent"


def required_share_sites(sites: int, percent: float) -> int:
    """At least `percent` % of `sites`, rounded up; rounded to 9 places first so 30 % of 10
    sites (3.0000000000000004 in floating point) asks for 3, not 4."""
    return math.ceil(round(sites * percent / 100, 9))


def _client_site_names(records: Records) -> dict[str, set[str]]:
    """client id -> names of its sites, for clients with two or more named sites."""
    out = {}
    for client in records.of_type("client"):
        names = {site["name"] for site in client.get("sites") or [] if site.get("name")}
        if len(names) >= 2:
            out[client["id"]] = names
    return out


def _not_visited(audit: dict, records: Records):
    if audit.get("audit_type") not in SAMPLE_FACTOR:
        return None
    names = records.shared("client_site_names", _client_site_names).get(audit.get("client"))
    return None if names is None else len(names - set(audit.get("sites") or []))


def _year(audit: dict) -> int | None:
    try:
        return parse_date(audit["start_date"]).year if isinstance(audit.get("start_date"), str) else None
    except ValueError:
        return None


def _unsampled_clients(records: Records) -> dict[str, set[str]]:
    names = records.shared("client_site_names", _client_site_names)
    return {c["id"]: names[c["id"]] for c in records.of_type("client")
            if c.get("site_sampling") == "not_appropriate" and c["id"] in names}


def _surveillance_site_years(records: Records) -> list[dict]:
    """One per unsampled multi-site client and calendar year before --as-of's year in which a
    surveillance audit (not cancelled) started, over every such audit of that year."""
    clients = _unsampled_clients(records)
    years: dict[tuple[str, int], list[dict]] = {}
    for audit in sorted(records.of_type("audit"), key=lambda a: (a.get("start_date") or "", a["id"])):
        year = _year(audit)
        if (audit.get("audit_type") == "surveillance" and audit.get("status") != "cancelled"
                and audit.get("client") in clients and year is not None and year < records.as_of_year):
            years.setdefault((audit["client"], year), []).append(audit)
    out = []
    for (client, year), audits in sorted(years.items()):
        names = clients[client]
        visited = len(names & {s for a in audits for s in a.get("sites") or []})
        required = required_share_sites(len(names), records.params[SHARE])
        out.append({"id": f"{client}#surveillance-sites#{year}", "type": "surveillance_site_year",
                    "_source": audits[0]["id"], "client": client, "year": year, "sites_total": len(names),
                    "sites_visited": visited, "sites_required": required, "site_shortfall": max(0, required - visited)})
    return out


FIELDS = (
    DerivedField("sites_not_visited", "audit", FieldInfo("integer"),
                 "how many of the client's named sites (central ones too) the audit's `sites` do not name; on the "
                 "sampled audits (stage 2, surveillance, recertification) of a client with 2+ named sites", (),
                 _not_visited),
)

SURVEILLANCE_SITE_YEAR = DerivedKind(
    "surveillance_site_year", "audit", "client",
    {"client": FieldInfo("string", ref="client"), "year": FieldInfo("integer"), "sites_total": FieldInfo("integer"),
     "sites_visited": FieldInfo("integer"), "sites_required": FieldInfo("integer"),
     "site_shortfall": FieldInfo("integer")},
    "one per client with `site_sampling: not_appropriate` and 2+ named sites and calendar year before the year of "
    "--as-of in which a surveillance audit (not cancelled) started, located on the year's first such audit: the "
    "client's named sites, how many the year's surveillance audits named, the share required (rounded up) and "
    "the shortfall (0 when enough)", (SHARE,), _surveillance_site_years, as_of="year")
