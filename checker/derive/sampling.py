"""Multi-site sampling (ISO/IEC 17021-1 9.1.5, IAF MD 1; SAM001, SAM002, SAM004): for a
stage 2, surveillance or recertification audit of a client whose record names two or more
sites, the client's sites, the sample IAF MD 1 asks for and how the audit's `sites` compare.
The sites are those of the audit's own client (`audit.client`), whatever else the pass holds."""
from __future__ import annotations

import math

from checker.derive.model import DerivedField, Records
from checker.records.schema_registry import FieldInfo

# The parameter holding the sample factor of each audit type that samples sites.
SAMPLE_FACTOR = {"stage2": "sampling_factor_initial", "surveillance": "sampling_factor_surveillance",
                 "recertification": "sampling_factor_recertification"}
FACTORS = tuple(SAMPLE_FACTOR.values())


def required_sample_sites(noncentral_sites: int, factor: float) -> int:
    """IAF MD 1 sample size: the square root of the number of non-central sites, scaled by the
    audit type's factor, rounded up. Rounded to 9 places first, so 0.6 × √25
    (3.0000000000000004 in floating point) asks for 3 sites, not 4."""
    return math.ceil(round(factor * math.sqrt(noncentral_sites), 9))


def _multi_site_clients(records: Records) -> dict[str, list[dict]]:
    """client id -> its named sites, for clients with two or more."""
    out = {}
    for client in records.of_type("client"):
        sites = [site for site in client.get("sites") or [] if site.get("name")]
        if len(sites) >= 2:
            out[client["id"]] = sites
    return out


def _sites(audit: dict, records: Records) -> tuple[list[dict], set[str], set[str]] | None:
    """(sites, central site names, other site names) of a sampled audit's client, else None."""
    if audit.get("audit_type") not in SAMPLE_FACTOR:
        return None
    sites = records.shared("multi_site_clients", _multi_site_clients).get(audit.get("client"))
    if sites is None:
        return None
    central = {s["name"] for s in sites if s.get("central")}
    return sites, central, {s["name"] for s in sites} - central


def _visited(audit: dict) -> set[str]:
    return set(audit.get("sites") or [])


def _total(audit: dict, records: Records):
    found = _sites(audit, records)
    return None if found is None else len(found[0])


def _noncentral_visited(audit: dict, records: Records):
    found = _sites(audit, records)
    return None if found is None else len(_visited(audit) & found[2])


def _required(audit: dict, records: Records):
    found = _sites(audit, records)
    if found is None:
        return None
    return required_sample_sites(len(found[2]), records.params[SAMPLE_FACTOR[audit["audit_type"]]])


def _shortfall(audit: dict, _records: Records):
    if audit.get("required_sample_sites") is None:
        return None
    return max(0, audit["required_sample_sites"] - audit["noncentral_sites_visited"])


def _central_visited(audit: dict, records: Records):
    found = _sites(audit, records)
    return None if found is None else bool(_visited(audit) & found[1])


_ON = "the sampled audits (stage 2, surveillance, recertification) of a client with 2+ named sites"
FIELDS = (
    DerivedField("sites_total", "audit", FieldInfo("integer"),
                 f"how many named sites the audit's client has; on {_ON}", (), _total),
    DerivedField("noncentral_sites_visited", "audit", FieldInfo("integer"),
                 "how many of the client's non-central sites the audit's `sites` name (exact names)", (),
                 _noncentral_visited),
    DerivedField("required_sample_sites", "audit", FieldInfo("integer"),
                 "the IAF MD 1 sample ceil(f·√n) over the client's n non-central sites, f the factor of the "
                 "audit type", FACTORS, _required),
    DerivedField("sample_shortfall", "audit", FieldInfo("integer"),
                 "required_sample_sites − noncentral_sites_visited, 0 when the sample is large enough", FACTORS,
                 _shortfall),
    DerivedField("central_site_visited", "audit", FieldInfo("boolean"),
                 "whether the audit's `sites` name a client site marked central", (), _central_visited),
)
