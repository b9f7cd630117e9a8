"""`cbcheck forecast` on the command line: formats, the JSON contract, exit codes."""
import json
from pathlib import Path

from click.testing import CliRunner
from jsonschema import Draft202012Validator

from cli import main
from tests.helpers import shipped_rules

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "checker/forecast/forecast.schema.json").read_text(encoding="utf-8"))
DEMO = str(ROOT / "fixtures/demo-cb")
# From 2026-09-26, the demo's impartiality committee falls 12 months behind on 2026-10-08.
WINDOW = ["--as-of", "2026-09-26", "--days", "30"]


def run(*args):
    return CliRunner().invoke(main, ["forecast", *map(str, args)], catch_exceptions=False)


def test_json_follows_its_schema_and_is_the_same_whatever_jobs():
    one, two = run(DEMO, *WINDOW, "--format", "json"), run(DEMO, *WINDOW, "--format", "json", "--jobs", "2")
    assert one.exit_code == 1 and one.output == two.output
    forecast = json.loads(one.output)
    Draft202012Validator.check_schema(SCHEMA)
    assert sorted(str(e.message) for e in Draft202012Validator(SCHEMA).iter_errors(forecast)) == []
    [item] = forecast["due"]
    assert (item["rule_id"], item["client"], item["due_date"], item["act_by"], item["days_from_as_of"],
            item["week_start"]) == ("STR001", None, "2026-10-08", "2026-10-07", 12, "2026-10-05")
    assert (item["file"], item["line"]) == ("cb/activities.yaml", 58)
    assert forecast["weeks"] == [{"week_start": "2026-10-05", "week_end": "2026-10-11", "count": 1,
                                  "by_severity": {"major": 0, "minor": 1, "observation": 0}}]
    assert forecast["clients"][0]["client"] is None


def test_text_names_the_day_the_rule_the_record_and_what_to_do_by_when():
    result = run(DEMO, *WINDOW)
    assert result.exit_code == 1
    assert "WEEK Mon 2026-10-05 - Sun 2026-10-11: 1" in result.output
    assert "Thu 2026-10-08 (in 12 days)  MINOR  STR001" in result.output
    assert "CB-wide: cb_activity cba-icm-2025  cb/activities.yaml:58" in result.output
    assert "Act by 2026-10-07: Convene the committee" in result.output


def test_nothing_due_exits_0_and_says_so():
    result = run(DEMO, "--as-of", "2026-04-01", "--days", "10")
    assert result.exit_code == 0
    assert "Nothing falls due by 2026-04-11." in result.output


def test_input_errors_exit_2_and_evaluate_nothing(tmp_path):
    (tmp_path / "bad.yaml").write_text("- {type: audit, id: a1, client: nobody, audit_type: bogus}\n", encoding="utf-8")
    result = run(tmp_path, "--days", "30", "--format", "json")
    assert result.exit_code == 2
    forecast = json.loads(result.output)
    assert forecast["errors"] and forecast["due"] == [] and forecast["evaluation"]["partitions"] == 0
    assert [] == [e.message for e in Draft202012Validator(SCHEMA).iter_errors(forecast)]
    text = run(tmp_path, "--days", "30").output
    assert "bad.yaml:1" in text and "this is not a clean result" in text


def test_text_escapes_control_characters_from_the_records():
    from checker.forecast.render_text import render_text
    from tests.forecast_samples import hostile_forecast
    forecast = hostile_forecast()
    forecast["due"][0]["client"] = forecast["clients"][0]["client"] = "evil\x1b[2J"
    out = render_text(forecast)
    assert "\x1b" not in out and "client evil\\x1b[2J: decision d1" in out


def test_a_client_with_input_errors_is_withheld_on_every_day_and_the_others_are_forecast(tmp_path):
    import shutil
    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder)
    audits = folder / "clients/saltmarsh/audits.yaml"
    text = audits.read_text(encoding="utf-8")
    audits.write_text(text.replace("start_date: 2021-04-12", "start_date: 2021-04-31", 1), encoding="utf-8")
    result = run(folder, "--as-of", "2026-06-01", "--days", "30", "--format", "json")
    assert result.exit_code == 2
    forecast = json.loads(result.output)
    assert [] == [e.message for e in Draft202012Validator(SCHEMA).iter_errors(forecast)]
    # Without the error: REP001 for saltmarsh on 06-12 and MGT001 CB-wide on 06-18.
    assert [(i["rule_id"], i["client"]) for i in forecast["due"]] == [("MGT001", None)]
    assert forecast["evaluation"]["not_evaluated"] == [{"partition": "saltmarsh", "why": "input errors"}]
    assert [(e["file"], e["pointer"]) for e in forecast["errors"]] == \
           [("clients/saltmarsh/audits.yaml", "/0/start_date")]
    text_output = run(folder, "--as-of", "2026-06-01", "--days", "30").output
    assert "Not evaluated on any day: saltmarsh (input errors)." in text_output


def test_a_partition_that_fails_on_as_of_is_left_out_not_guessed(monkeypatch):
    """With no starting point every later finding of the partition would look new: it is
    reported as an error and forecast for no day."""
    import datetime as dt

    from checker.errors import Problem
    from checker.forecast import compute
    real = compute.evaluate

    def saltmarsh_fails_on_as_of(index, rules, params, day, jobs=1, withheld=frozenset(), only_partitions=None):
        result = real(index, rules, params, day, jobs, withheld=withheld, only_partitions=only_partitions)
        if day == dt.date(2026, 6, 1):
            result.findings = [f for f in result.findings if f["client"] != "saltmarsh"]
            result.unjudged.append(("saltmarsh", "client", "engine failure"))
            result.partition_errors.append(Problem("partition saltmarsh", None, "", "engine died", kind="engine"))
        return result
    monkeypatch.setattr(compute, "evaluate", saltmarsh_fails_on_as_of)
    rules, params = shipped_rules()
    forecast = compute.build_forecast(DEMO, rules, params, dt.date(2026, 6, 1), 30)
    # Without the failure: REP001 for saltmarsh on 06-12 and MGT001 CB-wide on 06-18.
    assert [(i["rule_id"], i["client"]) for i in forecast["due"]] == [("MGT001", None)]
    assert [e["file"] for e in forecast["errors"]] == ["partition saltmarsh"]


def test_an_input_path_with_a_control_character_is_shown_escaped(tmp_path):
    import shutil

    folder = tmp_path / "cb\nFAKE LINE"
    shutil.copytree(DEMO, folder)
    text = run(folder, "--as-of", "2026-06-01", "--days", "1").output
    as_json = json.loads(run(folder, "--as-of", "2026-06-01", "--days", "1", "--format", "json").output)
    assert "FAKE LINE" in text and "\nFAKE LINE" not in text
    assert as_json["input"]["path"].endswith("cb\\nFAKE LINE")
