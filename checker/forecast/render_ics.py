"""The forecast as an iCalendar file (RFC 5545) a quality manager subscribes to: one all-day
event per due item on its "act by" day, with a reminder a week before.

The UID comes from the finding's fingerprint (and its client), so a calendar application that
reloads the file updates an event rather than adding a second one, and drops the event once
the finding no longer falls due. DTSTAMP is --as-of at midnight UTC, not the clock: the same
inputs give the same bytes. Written here rather than with a library (the tests parse it with
the `icalendar` package): text escaping and line folding are all the format asks for.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re

from checker.report.views import location, standard_short

REMIND_DAYS_BEFORE = 7
FOLD_OCTETS = 75
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and line breaks escaped; other
    control characters, which the format does not allow, shown as U+FFFD (records are untrusted)."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
    return _CONTROL.sub("\ufffd", value)


def fold(line: str) -> str:
    """A content line folded after at most 75 octets (RFC 5545 3.1), never inside a UTF-8
    character; lines end with CRLF."""
    out, current, size = [], [], 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > FOLD_OCTETS:
            out.append("".join(current))
            current, size = [" "], 1
        current.append(char)
        size += width
    out.append("".join(current))
    return "\r\n".join(out) + "\r\n"


def _date(iso: str) -> str:
    return iso.replace("-", "")


def event_uid(item: dict) -> str:
    """Stable for one finding: its fingerprint, and (for a finding a CB-wide record gives in
    several clients' partitions) a digest of the client."""
    client = hashlib.sha256((item["client"] or "").encode()).hexdigest()[:8]
    return f"{item['fingerprint']}-{client}@cbcheck"


def _description(item: dict) -> str:
    who = f"Client {item['client']}" if item["client"] else "CB-wide"
    return "\n".join([
        f"Becomes a {item['severity']} finding on {item['due_date']} if nothing is done.",
        item["message"], "",
        f"What to do by {item['act_by']}: {item['remediation']}", "",
        f"Rule {item['rule_id']} ({item['standard']} {item['clause']}): {item['title']}",
        f"{who}: {item['record_type']} {item['record_id']}, {location(item)} {item['pointer'] or '/'}"])


def _event(item: dict, stamp: str) -> list[str]:
    end = dt.date.fromisoformat(item["act_by"]) + dt.timedelta(days=1)
    summary = (f"{item['rule_id']} {item['client'] or 'CB-wide'}: {item['title']} "
               f"({standard_short(item['standard'])} {item['clause']})")
    return ["BEGIN:VEVENT", f"UID:{event_uid(item)}", f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{_date(item['act_by'])}", f"DTEND;VALUE=DATE:{_date(end.isoformat())}",
            f"SUMMARY:{escape_text(summary)}", f"DESCRIPTION:{escape_text(_description(item))}",
            f"CATEGORIES:{escape_text(item['severity'])}", "TRANSP:TRANSPARENT",
            "BEGIN:VALARM", "ACTION:DISPLAY", f"TRIGGER:-P{REMIND_DAYS_BEFORE}D",
            f"DESCRIPTION:{escape_text(summary)}", "END:VALARM", "END:VEVENT"]


def render_ics(forecast: dict) -> str:
    stamp = _date(forecast["as_of"]) + "T000000Z"
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:-//cbcheck//cbcheck {forecast['tool']['version']}//EN",
             "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape_text('cbcheck: what falls due - ' + forecast['input']['path'])}"]
    for item in forecast["due"]:
        lines += _event(item, stamp)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) for line in lines)
