"""The calculation as a justification a CB can hand to its client (IAF MD 5 asks for one):
text, Markdown or JSON. Text and Markdown share one outline of sections, each a heading,
paragraphs and at most one table, so the two always say the same."""
from __future__ import annotations

import json
import textwrap

import yaml

from checker import __version__

FORMAT = "cbcheck-audit-time/1"


def _g(x) -> str:
    return f"{x:g}" if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


def _pct(x) -> str:
    return f"{x:+g} %"


def _table1(r: dict) -> dict:
    band = next(b for b in r["parameters_by_name"]["sm_table1_audit_days"]
                if b.get("max_persons") is None or r["persons"] <= b["max_persons"])
    upto = f"the band up to {band['max_persons']} persons" if band.get("max_persons") is not None else "the last band"
    lines = [f"{r['persons']} persons doing work under the client's control: {_g(r['table1_days'])} auditor days "
             f"({upto}, parameter sm_table1_audit_days)."]
    if r.get("persons_basis"):
        lines.append(f"How the persons were counted: {r['persons_basis']}")
    return {"title": "1. Table 1 (ISO/IEC 20000-6 SM 9.1.4)", "lines": lines}


def _factors(r: dict) -> dict:
    c = r["change"]
    rows = [[a["factor"], _pct(a["percent"]), a["source"], a["justification"]] for a in r["adjustments"]]
    lines = ["No adjustment factor: the Table 1 value applies."] if not rows else [
        f"Listed reductions {_g(c['listed_reductions_percent'])} %, increases {_g(c['listed_increases_percent'])} %, "
        f"net {_pct(c['net_percent'])}; cap -{_g(c['cap_percent'])} % (sm_max_audit_time_reduction_percent)"
        + (f": capped, {_pct(c['applied_percent'])} applied." if c["capped"] else ": within the cap."),
        f"{_g(r['table1_days'])} days {_pct(c['applied_percent'])} = {_g(r['single_site_days'])} days."]
    return {"title": "2. Adjustment factors (ISO/IEC 17021-1 9.1.4.2)", "lines": lines,
            "table": (["factor", "percent", "from", "justification"], rows) if rows else None}


def _sites(r: dict) -> dict | None:
    m = r["multi_site"]
    if not m:
        return None
    size = m["sample_sizes"]
    rows = [[x["name"] + (" (central)" if x["central"] else ""), _g(x["persons"]), _g(x["table1_days"]),
             _pct(x["client_percent"]), _pct(x["site_percent"]), _pct(x["applied_percent"]), _g(x["days"]),
             x["justification"]] for x in m["sites"]]
    lines = [f"{m['non_central_sites']} non-central sites; IAF MD 1 sample: {size['initial']} initial, "
             f"{size['surveillance']} surveillance, {size['recertification']} recertification (sampling_factor_*), "
             "plus the central function every time.",
             f"Each site from Table 1 for its own persons; the client's net change plus the site's own reduction, "
             f"at most {_g(r['parameters_by_name']['md1_max_site_reduction_percent'])} % per site "
             "(md1_max_site_reduction_percent).",
             f"Sites total {_g(m['sites_total_days'])} days; never below {_g(m['sms_floor_days'])} days "
             "(the 20000-6 cap from the client's Table 1 value)" + (": raised." if m["raised_to_floor"] else ".")]
    return {"title": "3. Multi-site (IAF MD 1)", "lines": lines,
            "table": (["site", "persons", "Table 1", "client", "site", "applied", "days", "justification"], rows)}


def _integration(r: dict) -> dict | None:
    i = r["integration"]
    if not i:
        return None
    rows = [[x["standard"], _g(x["initial_audit_days"])] for x in i["standards"]]
    lines = [f"Separate times add up to {_g(i['separate_total_days'])} days; integration reduction "
             f"{_pct(i['asked_percent'])}" + (f", capped at {_pct(i['applied_percent'])}" if i["capped"] else "")
             + " (md11_max_integration_reduction_percent), applied after the steps above and not added to them."
             + (f" Justification: {i['justification']}" if i["justification"] else ""),
             f"Integrated audit: {_g(i['initial_audit_days'])} days initial (SMS part {_g(i['sms_share_days'])}), "
             f"stage 1 {_g(i['stage1_days'])}, surveillance {_g(i['surveillance_days'])}, "
             f"recertification {_g(i['recertification_days'])}."]
    return {"title": "4. Integrated audit (IAF MD 11)", "lines": lines, "table": (["standard", "initial days"], rows)}


def _result(r: dict) -> dict:
    p = r["parameters_by_name"]
    rows = [["initial audit (stage 1 + stage 2)", _g(r["initial_audit_days"]), "rounded up to "
             f"{_g(p['audit_time_rounding_days'])} day"],
            ["stage 1", _g(r["stage1_days"]), f"{_g(p['stage1_share_percent'])} % of the initial time"],
            ["stage 2", _g(r["stage2_days"]), "the rest"],
            ["each surveillance audit", _g(r["surveillance_days"]), f"{p['surveillance_fraction_of_initial']} of the initial time"],
            ["recertification audit", _g(r["recertification_days"]),
             f"{p['recertification_fraction_of_initial']} of the initial time"]]
    return {"title": "5. Audit time (auditor days)", "lines": [], "table": (["audit", "days", "basis"], rows)}


def _notes(r: dict) -> dict | None:
    if not r["notes"]:
        return None
    return {"title": "Notes", "lines": [n["text"] for n in r["notes"]]}


def _parameters(r: dict) -> dict:
    lines = ["Values marked [verify] must be confirmed against your licensed copy of the standard or your CB's "
             "procedure; override them with --params."]
    for p in r["parameters"]:
        value = f"table of {len(p['value'])} rows" if isinstance(p["value"], list) else _g(p["value"])
        lines.append(f"{p['name']} = {value} {p['unit']}" + (" [verify]" if p["verify"] else "")
                     + (" [overridden]" if p["overridden"] else "") + f" ({p['clause']}): {p['source']}")
    return {"title": "Parameters used", "lines": lines}


def fragment_yaml(result: dict) -> str:
    """The application review's audit_time as YAML, to paste under the review record."""
    return yaml.safe_dump(result["application_review"], sort_keys=False, allow_unicode=True, width=100)


def _fragment(r: dict) -> dict:
    text = fragment_yaml(r)
    return {"title": "Application review fragment", "lines": [
        "The audit_time of the client's application_review record (cbcheck's TIME rules judge it):"],
        "code": text}


def outline(result: dict) -> tuple[str, list[dict]]:
    r = dict(result, parameters_by_name={p["name"]: p["value"] for p in result["parameters"]})
    title = "Audit time" + (f" for {r['client']}" if r.get("client") else "") + " - ISO/IEC 20000-1 service management system"
    sections = [_table1(r), _factors(r), _sites(r), _integration(r), _result(r), _notes(r), _parameters(r), _fragment(r)]
    return title, [s for s in sections if s]


def render_text(result: dict) -> str:
    title, sections = outline(result)
    out = [title, f"calculated by cbcheck {__version__} audit-time", ""]
    for s in sections:
        out.append(s["title"])
        out += [textwrap.fill(line, 100, initial_indent="  ", subsequent_indent="    ") for line in s["lines"]]
        if s.get("table"):
            out += _text_table(*s["table"])
        if s.get("code"):
            out += ["    " + line for line in s["code"].splitlines()]
        out.append("")
    return "\n".join(out)


def _text_table(header: list[str], rows: list[list[str]]) -> list[str]:
    # The last column (justification, source) is free text: left unpadded so it may run on.
    widths = [max(len(str(x[i])) for x in [header] + rows) for i in range(len(header) - 1)]
    return ["  " + "  ".join([str(c).ljust(w) for c, w in zip(row, widths)] + [str(row[-1])]).rstrip()
            for row in [header] + rows]


def _md(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(result: dict) -> str:
    title, sections = outline(result)
    out = [f"# {_md(title)}", "", f"*Calculated by cbcheck {__version__} `audit-time`.*", ""]
    for s in sections:
        out += [f"## {s['title']}", ""] + [_md(line) + "\n" for line in s["lines"]]
        if s.get("table"):
            header, rows = s["table"]
            out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows] + [""]
        if s.get("code"):
            out += ["```yaml", s["code"].rstrip("\n"), "```", ""]
    return "\n".join(out)


def render_json(result: dict) -> str:
    doc = {"format": FORMAT, "tool": {"name": "cbcheck", "version": __version__}, **result}
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


RENDERERS = {"text": render_text, "markdown": render_markdown, "json": render_json}
