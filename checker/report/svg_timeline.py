"""A client's certification cycle as an inline SVG timeline for the HTML report: certificate
validity bars, audits, decisions and the client's findings, each on its own lane, on one time
axis with a line at the report's as-of date. x grows with the date, so events read left to
right in time. Finding markers link to the finding's row in the report (`finding_href`).
Labels are escaped here; identical input gives identical bytes (see svg_charts).
"""
from __future__ import annotations

import datetime as dt
from html import escape

from checker.report.svg_charts import WIDTH, _frame, _n

LEFT, RIGHT, TOP, LANE_H, BAR_H = 110, 16, 24, 30, 12
AUDIT_CODE = {"stage1": "S1", "stage2": "S2", "surveillance": "SV", "recertification": "RC",
              "special": "SP", "transfer": "TR"}
DECISION_CODE = {"grant": "G", "refuse": "RF", "maintain": "M", "renew": "RN", "suspend": "SU", "restore": "RS",
                 "withdraw": "W", "expand": "E", "reduce": "RD"}
# Decisions that take certification away: drawn in the alarm colour.
ADVERSE = {"suspend", "withdraw", "refuse", "reduce"}
LANES = (("certificate", "Certificates"), ("audit", "Audits"), ("decision", "Decisions"), ("finding", "Findings"))


def _day(iso: str) -> int:
    return dt.date.fromisoformat(iso).toordinal()


class _Axis:
    """Date -> x over the span of everything drawn, with a little room either side."""

    def __init__(self, dates: list[str]):
        days = [_day(d) for d in dates]
        self.first, last = min(days) - 30, max(days) + 30
        self.scale = (WIDTH - LEFT - RIGHT) / (last - self.first)
        self.last = last

    def x(self, iso: str) -> float:
        return LEFT + (_day(iso) - self.first) * self.scale

    def years(self) -> list[int]:
        first = dt.date.fromordinal(self.first).year + 1
        return list(range(first, dt.date.fromordinal(self.last).year + 1))


def _lane_y(lanes: dict[str, int], kind: str) -> float:
    return TOP + lanes[kind] * LANE_H


def _certificate(e: dict, axis: _Axis, y: float) -> str:
    x1, x2 = axis.x(e["start"]), axis.x(e["end"])
    tip = f"Certificate {e['record_id']} ({e['detail']}): valid {e['start']} to {e['end']}"
    return (f'<rect class="tl-cert tl-cert-{escape(e["detail"])}" x="{_n(x1)}" y="{_n(y)}" width="{_n(max(x2 - x1, 2))}" '
            f'height="{BAR_H}" rx="3"><title>{escape(tip)}</title></rect>')


def _audit(e: dict, axis: _Axis, y: float, n: int) -> str:
    x1, x2 = axis.x(e["start"]), axis.x(e["end"])
    code = AUDIT_CODE.get(e["detail"], "A")
    tip = f"{e['detail']} audit {e['record_id']}: {e['start']}" + (f" to {e['end']}" if e["end"] != e["start"] else "")
    # Neighbouring labels alternate above and below the mark so close audits stay readable.
    ty = y - 2 if n % 2 == 0 else y + BAR_H + 9
    return (f'<g><title>{escape(tip)}</title><rect class="tl-audit" x="{_n(x1)}" y="{_n(y + 1)}" '
            f'width="{_n(max(x2 - x1, 4))}" height="{BAR_H - 2}"/>'
            f'<text class="tl-code" x="{_n(x1)}" y="{_n(ty)}" text-anchor="middle">{code}</text></g>')


def _decision(e: dict, axis: _Axis, y: float, n: int) -> str:
    x, cy = axis.x(e["start"]), y + BAR_H / 2
    cls = "tl-adverse" if e["detail"] in ADVERSE else "tl-decision"
    code = DECISION_CODE.get(e["detail"], "D")
    ty = y - 2 if n % 2 == 0 else y + BAR_H + 9
    tip = f"{e['detail']} decision {e['record_id']}: {e['start']}"
    return (f'<g><title>{escape(tip)}</title><path class="{cls}" d="M{_n(x)} {_n(cy - 6)}l6 6-6 6-6-6z"/>'
            f'<text class="tl-code" x="{_n(x)}" y="{_n(ty)}" text-anchor="middle">{code}</text></g>')


def _finding(m: dict, axis: _Axis, y: float, href: str | None) -> str:
    x, cy = axis.x(m["date"]), y + BAR_H / 2
    tip = f"{m['severity']} finding {m['rule_id']} on {m['record_id']} ({m['date']})"
    mark = (f'<circle class="series-{escape(m["severity"])}" cx="{_n(x)}" cy="{_n(cy)}" r="5">'
            f'<title>{escape(tip)}</title></circle>')
    return f'<a href="#{escape(href)}">{mark}</a>' if href else mark


def _due(item: dict, axis: _Axis, y: float) -> str:
    """A finding that will appear on `due_date` if nothing is done (a forecast item): a hollow
    mark in its severity's colour, so it reads as not yet a finding."""
    x, cy = axis.x(item["due_date"]), y + BAR_H / 2
    tip = (f"falls due {item['due_date']} (act by {item['act_by']}): {item['severity']} {item['rule_id']} "
           f"on {item['record_id']}")
    return (f'<circle class="tl-due series-{escape(item["severity"])}" cx="{_n(x)}" cy="{_n(cy)}" r="5">'
            f'<title>{escape(tip)}</title></circle>')


def timeline(cycle: dict, as_of: str, finding_href: dict[str, str], *, label_id: str,
             due: list[dict] = ()) -> str | None:
    """The SVG of one client's timeline (model `timelines` entry), or None with nothing dated.
    `due` holds the client's forecast items (checker/forecast/forecast.schema.json `due`), drawn
    on the findings lane at the day each would appear."""
    events, marks = cycle["events"], cycle["findings"]
    dates = ([e[k] for e in events for k in ("start", "end")] + [m["date"] for m in marks]
             + [d["due_date"] for d in due] + [as_of])
    if not events and not marks and not due:
        return None
    axis = _Axis(dates)
    lanes = {kind: i for i, (kind, _) in enumerate(LANES)}
    height = TOP + LANE_H * len(LANES) + 22
    base = TOP + LANE_H * len(LANES)
    body = []
    for year in axis.years():
        x = axis.x(f"{year:04d}-01-01")
        body.append(f'<line class="grid" x1="{_n(x)}" y1="{TOP - 12}" x2="{_n(x)}" y2="{base}"/>'
                    f'<text class="tick" x="{_n(x)}" y="{base + 16}" text-anchor="middle">{year}</text>')
    for kind, label in LANES:
        body.append(f'<text class="axis-label" x="{LEFT - 10}" y="{_n(_lane_y(lanes, kind) + BAR_H - 2)}" '
                    f'text-anchor="end">{label}</text>')
    counts = {"audit": 0, "decision": 0}
    for e in events:
        y = _lane_y(lanes, e["kind"])
        if e["kind"] == "certificate":
            body.append(_certificate(e, axis, y))
        else:
            body.append((_audit if e["kind"] == "audit" else _decision)(e, axis, y, counts[e["kind"]]))
            counts[e["kind"]] += 1
    for m in marks:
        body.append(_finding(m, axis, _lane_y(lanes, "finding"), finding_href.get(m["fingerprint"])))
    for item in due:
        body.append(_due(item, axis, _lane_y(lanes, "finding")))
    x = axis.x(as_of)
    body.append(f'<line class="tl-asof" x1="{_n(x)}" y1="{TOP - 14}" x2="{_n(x)}" y2="{base}"/>'
                f'<text class="tick" x="{_n(x)}" y="{TOP - 16}" text-anchor="middle">as of {escape(as_of)}</text>')
    desc = (f"Certification cycle of client {cycle['client']}: {len(events)} dated events and "
            f"{len(marks)} findings placed at the date of their record"
            + (f", {len(due)} falling due (hollow marks)" if due else "") + ", left to right in time.")
    return _frame(f"Certification cycle of {cycle['client']}", desc, height, body, label_id)
