"""A forecast model built by hand, valid against forecast.schema.json, whose texts come from a
hostile CB's records: for the renderers' escaping tests."""

HOSTILE_CLIENT = 'Acme, Ltd; "North"\r\nline two\\ \x07 ünïcode ✓ <script>window.__pwned=1</script>'


def hostile_forecast() -> dict:
    item = {"due_date": "2026-03-02", "act_by": "2026-03-01", "days_from_as_of": 1, "week_start": "2026-03-02",
            "rule_id": "CYC002", "standard": "ISO/IEC 17021-1:2015", "clause": "9.1.3.3", "severity": "major",
            "title": "First surveillance within 12 months", "client": HOSTILE_CLIENT, "record_id": "d1",
            "record_type": "decision", "file": "a,b;c<b>.yaml", "line": 3, "pointer": "/0/date",
            "message": "é" * 200 + ' <img src=x onerror="window.__pwned=2">',
            "remediation": "Plan it; now.", "fingerprint": "0123456789abcdef"}
    severities = {"major": 1, "minor": 0, "observation": 0}
    return {"forecast_format": "cbcheck-forecast/1", "tool": {"name": "cbcheck", "version": "0"},
            "as_of": "2026-03-01", "days": 1, "until": "2026-03-02",
            "input": {"path": "x</title><script>window.__pwned=3</script>", "records": 1, "clients": 1},
            "evaluation": {"partitions": 1, "change_dates": 1, "partition_evaluations": 1, "not_evaluated": []},
            "summary": {"due": 1, "by_severity": severities, "errors": 0}, "errors": [],
            "weeks": [{"week_start": "2026-03-02", "week_end": "2026-03-08", "count": 1, "by_severity": severities}],
            "clients": [{"client": HOSTILE_CLIENT, "count": 1, "first_due": "2026-03-02", "by_severity": severities}],
            "due": [item]}
