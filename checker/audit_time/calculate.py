"""The audit-time calculation for one SMS client, step by step, each step with its basis.

Order of the steps (each cap applies to its own basis; the percentages of different steps are
never added into one reduction, EA answer of March 2022):

1. ISO/IEC 20000-6 Table 1 value for the persons doing work under the client's control
   (derive's table1_days over the parameter sm_table1_audit_days, the same look-up the TIME
   rules use).
2. The adjustment factors (17021-1 9.1.4.2): listed ones take their percentage from the
   parameter audit_time_factors; the net change is capped at a reduction of
   sm_max_audit_time_reduction_percent (20000-6 SM 9.1.4). Listed reductions adding up to more
   than the cap are reported: EA FAQ 48.4 does not accept capping them as a routine.
3. Multi-site (IAF MD 1): the central function and the sampled sites, each from Table 1 for its
   own persons, with the client's net change plus the site's own reduction, at most
   md1_max_site_reduction_percent per site; the total is never more than the 20000-6 cap below
   the client's Table 1 value.
4. Integration (IAF MD 11): after steps 1-3, the sum of the standards' separate times less at
   most md11_max_integration_reduction_percent; the SMS part stays within the 20000-6 cap.
5. Rounding up to audit_time_rounding_days; stage 1 / stage 2 split; surveillance and
   recertification as fractions of the initial time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from checker.catalog.parameters import Parameters
from checker.derive import required_sample_sites, table1_days
from checker.errors import Problem

USED_PARAMETERS = (
    "sm_table1_audit_days", "sm_max_audit_time_reduction_percent", "audit_time_factors",
    "md1_max_site_reduction_percent", "sampling_factor_initial", "sampling_factor_surveillance",
    "sampling_factor_recertification", "md11_max_integration_reduction_percent", "stage1_share_percent",
    "surveillance_fraction_of_initial", "recertification_fraction_of_initial", "audit_time_rounding_days")


@dataclass(frozen=True)
class Settings:
    """The parameter values one calculation uses."""
    table: list
    cap: float
    factors: dict
    site_cap: float
    sampling: dict
    integration_cap: float
    stage1_share: float
    surveillance: Fraction
    recertification: Fraction
    step: float


def _fraction(params: Parameters, name: str, problems: list[Problem]) -> Fraction:
    value = params.items[name].value
    try:
        result = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        result = Fraction(0)
    if not 0 < result <= 1:
        problems.append(Problem(f"parameter {name}", None, "", f"{value!r} is not a fraction between 0 and 1",
                                'a fraction written N/D, such as "1/3"'))
    return result


def settings_from(params: Parameters) -> tuple[Settings | None, list[Problem]]:
    missing = [n for n in USED_PARAMETERS if n not in params.items]
    if missing:
        return None, [Problem("rules/parameters", None, "", "parameters missing: " + ", ".join(missing),
                              "the catalog's parameters.yaml and parameters.d/audit-time.yaml")]
    v, problems = params.values(), []
    factors = {}
    for i, row in enumerate(v["audit_time_factors"]):
        if not (isinstance(row, dict) and isinstance(row.get("name"), str)
                and isinstance(row.get("percent"), (int, float)) and not isinstance(row.get("percent"), bool)):
            problems.append(Problem("parameter audit_time_factors", None, f"/{i}", f"row {row!r} is malformed",
                                    "{name: ..., percent: number, description: ...}"))
        else:
            factors[row["name"]] = row
    settings = Settings(
        v["sm_table1_audit_days"], v["sm_max_audit_time_reduction_percent"], factors,
        v["md1_max_site_reduction_percent"],
        {k: v[f"sampling_factor_{k}"] for k in ("initial", "surveillance", "recertification")},
        v["md11_max_integration_reduction_percent"], v["stage1_share_percent"],
        _fraction(params, "surveillance_fraction_of_initial", problems),
        _fraction(params, "recertification_fraction_of_initial", problems), v["audit_time_rounding_days"])
    return settings, problems


def round_up(days: float, step: float) -> float:
    """Up to the next step (never down: rounding may not remove time no factor justified)."""
    return round(math.ceil(round(days / step, 9)) * step, 2)


def _percent_floor(value: float) -> float:
    """Two decimals, rounded towards minus infinity, so a listed reduction is never understated."""
    return math.floor(round(value * 100, 6)) / 100


def _adjustments(data: dict, s: Settings) -> list[dict]:
    out = []
    for adj in data.get("adjustments") or []:
        listed = s.factors.get(adj["factor"])
        out.append({"factor": adj["factor"], "percent": listed["percent"] if listed else adj["percent"],
                    "source": "parameter audit_time_factors" if listed else "the CB's own factor",
                    "description": listed.get("description", "") if listed else "",
                    "justification": adj["justification"]})
    return out


def _net_change(adjustments: list[dict], cap: float) -> dict:
    reductions = round(sum(-a["percent"] for a in adjustments if a["percent"] < 0), 2) + 0.0
    increases = round(sum(a["percent"] for a in adjustments if a["percent"] > 0), 2) + 0.0
    net = round(increases - reductions, 2) + 0.0
    return {"listed_reductions_percent": reductions, "listed_increases_percent": increases, "net_percent": net,
            "cap_percent": cap, "applied_percent": max(net, -cap), "capped": net < -cap,
            "listed_beyond_cap": reductions > cap}


def _site_row(site: dict, client_percent: float, s: Settings) -> dict:
    base = table1_days(site["persons"], s.table)
    own = site.get("reduction_percent", 0) + 0.0
    combined = round(client_percent + own, 2)
    applied = max(combined, -s.site_cap)
    return {"name": site["name"], "persons": site["persons"], "central": bool(site.get("central")),
            "table1_days": base, "client_percent": client_percent, "site_percent": own,
            "combined_percent": combined, "applied_percent": applied, "capped": combined < -s.site_cap,
            "days": round(base * (1 + applied / 100), 2), "justification": site.get("justification", "")}


def _multi_site(sites: list[dict], client_percent: float, table1: float, s: Settings) -> dict:
    central = next(site for site in sites if site.get("central"))
    others = [site for site in sites if not site.get("central")]
    sample = {kind: required_sample_sites(len(others), factor) for kind, factor in s.sampling.items()}
    marked = [site for site in others if site.get("sampled")]
    chosen = marked or sorted(others, key=lambda x: (-x["persons"], x["name"]))[:sample["initial"]]
    rows = [_site_row(site, client_percent, s) for site in [central] + sorted(chosen, key=lambda x: x["name"])]
    total = round(sum(r["days"] for r in rows), 2)
    floor = round(table1 * (1 - s.cap / 100), 2)
    return {"non_central_sites": len(others), "sample_sizes": sample, "sample_assumed": not marked,
            "sample_short_by": max(0, sample["initial"] - len(chosen)), "sites": rows,
            "sites_total_days": total, "sms_floor_days": floor, "raised_to_floor": total < floor,
            "days": max(total, floor)}


def _integration(integrated: dict, sms_days: float, table1: float, s: Settings) -> dict:
    others = round(sum(x["initial_audit_days"] for x in integrated["standards"]), 2)
    separate = round(sms_days + others, 2)
    asked = integrated.get("reduction_percent", 0) + 0.0
    applied = max(asked, -s.integration_cap)
    sms_floor = round(table1 * (1 - s.cap / 100), 2)
    sms_share = max(round(sms_days * (1 + applied / 100), 2), sms_floor)
    days = round_up(sms_share + others * (1 + applied / 100), s.step)
    return {"standards": [{"standard": "ISO/IEC 20000-1 (this calculation)", "initial_audit_days": sms_days}]
            + [{"standard": x["standard"], "initial_audit_days": x["initial_audit_days"]} for x in integrated["standards"]],
            "separate_total_days": separate, "asked_percent": asked, "applied_percent": applied,
            "capped": asked < -s.integration_cap, "sms_share_days": sms_share,
            "sms_share_at_floor": sms_share == sms_floor and round(sms_days * (1 + applied / 100), 2) < sms_floor,
            "justification": integrated.get("justification", ""), "initial_audit_days": days,
            "stage1_days": round_up(days * s.stage1_share / 100, s.step),
            "surveillance_days": round_up(float(days * s.surveillance), s.step),
            "recertification_days": round_up(float(days * s.recertification), s.step)}


def calculate(data: dict, params: Parameters, settings: Settings) -> dict:
    """The whole calculation for an input inputs.check_input found no problem with."""
    s, persons = settings, data["persons"]
    table1 = table1_days(persons, s.table)
    adjustments = _adjustments(data, s)
    change = _net_change(adjustments, s.cap)
    single = round(table1 * (1 + change["applied_percent"] / 100), 2)
    sites = _multi_site(data["sites"], change["applied_percent"], table1, s) if data.get("sites") else None
    sms_days = sites["days"] if sites else single
    initial = round_up(sms_days, s.step)
    stage1 = round_up(initial * s.stage1_share / 100, s.step)
    result = {
        "client": data.get("client"), "persons": persons, "persons_basis": data.get("persons_basis"),
        "table1_days": table1, "adjustments": adjustments, "change": change, "single_site_days": single,
        "multi_site": sites, "initial_audit_days": initial, "stage1_days": stage1,
        "stage2_days": round(initial - stage1, 2),
        "surveillance_days": round_up(float(initial * s.surveillance), s.step),
        "recertification_days": round_up(float(initial * s.recertification), s.step),
        "integration": _integration(data["integrated"], initial, table1, s) if data.get("integrated") else None,
        "parameters": [_parameter(params, name) for name in USED_PARAMETERS],
    }
    result["application_review"] = {"audit_time": fragment(result)}
    result["notes"] = notes(result)
    return result


def _parameter(params: Parameters, name: str) -> dict:
    p = params.items[name]
    return {"name": name, "value": p.value, "unit": p.unit, "clause": p.clause, "source": p.source,
            "verify": p.verify, "overridden": p.overridden}


def notes(result: dict) -> list[dict]:
    """What the CB should know before handing the calculation over: caps applied, the EA
    reading on listing reductions beyond the cap, assumptions the calculator made."""
    c = result["change"]
    listed = result["application_review"]["audit_time"].get("adjustments", [])
    listed_reductions = round(sum(-a["percent"] for a in listed if a["percent"] < 0), 2)
    table_to_verify = any(p["verify"] and p["name"] == "sm_table1_audit_days" for p in result["parameters"])
    return (_when((listed_reductions > c["cap_percent"], "listed_beyond_cap", "TIME007",
                   f"The reductions listed add up to {listed_reductions:g} %, more than the {c['cap_percent']:g} % "
                   "cap. EA's reading (FAQ 48.4): listing reductions beyond the cap and then applying the cap as a "
                   "matter of course is not acceptable; each reduction has to be justified for this client on its "
                   "own. Re-examine the factors (TIME007 reports this review; TIME006 the practice when several "
                   "reviews do it)."),
                  (c["capped"], "capped", "TIME002",
                   f"The net change of {c['net_percent']:g} % was capped at -{c['cap_percent']:g} % (20000-6 SM 9.1.4)."))
            + _site_notes(result["multi_site"], c["cap_percent"])
            + _integration_notes(result["integration"], c["cap_percent"])
            + _when((table_to_verify, "verify", None,
                     "The Table 1 values are parameters marked verify: confirm them against your licensed copy of "
                     "ISO/IEC 20000-6 before relying on the result.")))


def _when(*candidates: tuple) -> list[dict]:
    """Notes from (condition, kind, rule concerned, text) rows, those whose condition holds."""
    return [{"kind": kind, "rule": rule, "text": text} for holds, kind, rule, text in candidates if holds]


def _site_notes(sites: dict | None, cap: float) -> list[dict]:
    if not sites:
        return []
    return _when(*[(True, "site_capped", None,
                    f"Site {r['name']}: reductions of {-r['combined_percent']:g} % in total were capped at "
                    f"{-r['applied_percent']:g} % (IAF MD 1: per sampled site).") for r in sites["sites"] if r["capped"]],
                 (sites["sample_assumed"], "sample_assumed", None,
                  f"No site was marked sampled: the calculation assumes the {sites['sample_sizes']['initial']} "
                  "non-central sites with the most persons. The choice of sites is the CB's; mark them with sampled: true."),
                 (sites["sample_short_by"], "sample_short", "SAM",
                  f"The sites marked sampled are {sites['sample_short_by']} fewer than the IAF MD 1 sample of "
                  f"{sites['sample_sizes']['initial']} for the initial audit."),
                 (sites["raised_to_floor"], "sms_floor", "TIME002",
                  f"The sites add up to {sites['sites_total_days']:g} days, more than {cap:g} % below the client's "
                  f"Table 1 value; the SMS time was raised to {sites['sms_floor_days']:g} days (20000-6 SM 9.1.4)."))


def _integration_notes(integ: dict | None, cap: float) -> list[dict]:
    if not integ:
        return []
    return _when((True, "not_added", None,
                  "The integration reduction (IAF MD 11) is applied to the integrated total after the 20000-6 and "
                  "IAF MD 1 steps; its percentage is not added to theirs (EA FAQ 37.23; EA answer of March 2022)."),
                 (integ["capped"], "integration_capped", None,
                  f"The integration reduction of {-integ['asked_percent']:g} % was capped at "
                  f"{-integ['applied_percent']:g} % (IAF MD 11)."),
                 (integ["sms_share_at_floor"], "sms_floor", "TIME002",
                  f"The SMS part of the integrated audit was kept at {integ['sms_share_days']:g} days: no more than "
                  f"{cap:g} % below the Table 1 value in total (20000-6 SM 9.1.4)."))


def fragment(result: dict) -> dict:
    """The `audit_time` of an application review (application_review.schema.json), so the
    TIME rules judge exactly what was calculated."""
    adjustments = [{"factor": a["factor"], "percent": a["percent"]} for a in result["adjustments"]]
    sites = result["multi_site"]
    if sites and sites["days"] != result["single_site_days"]:
        percent = _percent_floor((sites["days"] - result["single_site_days"]) / result["table1_days"] * 100)
        adjustments.append({"factor": f"multi-site (IAF MD 1): central function and {len(sites['sites']) - 1} "
                                      f"sampled site(s), {sites['days']:g} days", "percent": percent})
    out = {"persons": result["persons"]}
    if adjustments:
        out["adjustments"] = adjustments
    if sites:       # each audited site's own reduction, all reasons together (TIME010 judges it)
        out["sites"] = [{"site": r["name"], "reduction_percent": max(0.0, -r["applied_percent"])}
                        for r in sites["sites"]]
    integration = result["integration"]
    if integration and integration["applied_percent"] < 0:     # TIME011 judges it
        out["integration_reduction_percent"] = -integration["applied_percent"]
    out["initial_audit_days"] = result["initial_audit_days"]
    out["justification"] = justification_text(result)
    return out


def justification_text(result: dict) -> str:
    c = result["change"]
    parts = [f"Table 1 (ISO/IEC 20000-6 SM 9.1.4) for {result['persons']} persons: {result['table1_days']:g} days."]
    if result.get("persons_basis"):
        parts.append(f"Persons: {result['persons_basis']}")
    parts += [f"{a['factor']} {a['percent']:+g} %: {a['justification']}" for a in result["adjustments"]]
    if result["adjustments"]:
        parts.append(f"Net {c['net_percent']:+g} %" + (f", capped at -{c['cap_percent']:g} %" if c["capped"] else "")
                     + f": {result['single_site_days']:g} days.")
    if result["multi_site"]:
        m = result["multi_site"]
        parts.append(f"Multi-site (IAF MD 1): central function and {len(m['sites']) - 1} of {m['non_central_sites']} "
                     f"sites, {m['sites_total_days']:g} days" + (f", raised to {m['days']:g}" if m["raised_to_floor"] else "") + ".")
    parts.append(f"Initial audit time {result['initial_audit_days']:g} days (stage 1 {result['stage1_days']:g}, "
                 f"stage 2 {result['stage2_days']:g}); surveillance {result['surveillance_days']:g}, "
                 f"recertification {result['recertification_days']:g}.")
    return " ".join(parts)
