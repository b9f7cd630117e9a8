"""The forecast as iCalendar, read back with the `icalendar` package (an independent RFC 5545
parser): one event per due item on its act-by day, UIDs from fingerprints, DTSTAMP from
--as-of, the same bytes for the same inputs, and untrusted text escaped and folded."""
import datetime as dt
import json
from pathlib import Path

import icalendar
import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from checker.forecast.compute import build_forecast
from checker.forecast.render_ics import event_uid, render_ics
from cli import main
from tests.forecast_samples import HOSTILE_CLIENT, hostile_forecast
from tests.helpers import shipped_rules

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "checker/forecast/forecast.schema.json").read_text(encoding="utf-8"))
DEMO = "fixtures/demo-cb"
RULES, PARAMS = shipped_rules()


def _lines_are_folded(text: str):
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert max(len(line.encode("utf-8")) for line in text.split("\r\n")) <= 75


@pytest.fixture(scope="module")
def june_forecast() -> dict:
    """The demo's 30-day forecast from 2026-06-01, computed here (not by the command line)."""
    return build_forecast(DEMO, RULES, PARAMS, dt.date(2026, 6, 1), 30)


def test_one_event_per_due_item_on_its_act_by_day_and_the_same_bytes_every_time(june_forecast):
    cli = CliRunner().invoke(main, ["forecast", DEMO, "--as-of", "2026-06-01", "--days", "30", "--format", "ics"],
                             catch_exceptions=False)
    assert cli.exit_code == 1
    written = cli.stdout_bytes.decode("utf-8")       # (Result.output turns CRLF into LF)
    forecast = june_forecast
    assert render_ics(forecast) == written            # computed twice: byte-identical
    _lines_are_folded(written)
    events = icalendar.Calendar.from_ical(written).walk("VEVENT")
    assert [str(e["UID"]) for e in events] == [event_uid(i) for i in forecast["due"]]
    assert len({str(e["UID"]) for e in events}) == len(events) == len(forecast["due"]) == 2
    for event, item in zip(events, forecast["due"]):
        assert event["DTSTART"].dt == dt.date.fromisoformat(item["act_by"])
        assert event["DTSTAMP"].dt == dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
        assert item["fingerprint"] in str(event["UID"])
        assert str(event["DESCRIPTION"]).count(item["remediation"]) == 1
        assert event.walk("VALARM")[0]["TRIGGER"].dt == -dt.timedelta(days=7)


def test_a_later_run_updates_the_same_events(june_forecast):
    early = june_forecast
    later = build_forecast(DEMO, RULES, PARAMS, dt.date(2026, 6, 5), 26)
    assert [event_uid(i) for i in later["due"]] == [event_uid(i) for i in early["due"]]
    stamps = {str(e["DTSTAMP"].to_ical()) for e in icalendar.Calendar.from_ical(render_ics(later)).walk("VEVENT")}
    assert stamps == {"b'20260605T000000Z'"}


def test_untrusted_text_is_escaped_and_folded():
    forecast = hostile_forecast()
    assert [e.message for e in Draft202012Validator(SCHEMA).iter_errors(forecast)] == []
    text = render_ics(forecast)
    _lines_are_folded(text)
    [event] = icalendar.Calendar.from_ical(text).walk("VEVENT")
    shown = HOSTILE_CLIENT.replace("\r\n", "\n").replace("\x07", "\ufffd")
    assert str(event["SUMMARY"]).startswith(f"CYC002 {shown}: First surveillance")
    assert "é" * 200 in str(event["DESCRIPTION"]) and "a,b;c<b>.yaml:3" in str(event["DESCRIPTION"])
