"""`cbcheck forecast` against brute force: for every day k of the window, `check --as-of D+k`
has exactly the findings the forecast lists up to D+k on top of those of `check --as-of D`,
each first on the day the forecast gives; and a partition's findings change from one day to
the next only on one of its change dates (the mechanism the nightly cache relies on)."""
import datetime as dt
from pathlib import Path

import pytest
import yaml

from checker.engine.batch import Request, batch_evaluator, evaluate_many
from checker.engine.partition import CB_PARTITION
from checker.forecast.compute import build_forecast, partition_change_dates
from checker.pipeline import judged_rules, load_input, run_check
from tests.generators import seeded_record_sets
from tests.helpers import shipped_rules

RULES, PARAMS = shipped_rules()


def _keys(report: dict) -> set[tuple[str, str | None]]:
    return {(f["fingerprint"], f["client"]) for f in report["findings"]}


# A worker registers each day's whole catalog (about 11 MB, never freed by durable_rules):
# days go to the engine in bounded batches.
BATCH_DAYS = 16


def _brute_force(path, as_of: dt.date, days: int):
    """Check on every day of the window: {key: first day}, and each day's findings. Each day is
    the whole `check --as-of` pipeline over the whole catalog; the engine judges the days'
    partitions in one worker per batch of days (checker.engine.batch) instead of a fork a day."""
    loaded = load_input(path)
    assert not loaded.problems
    judged = judged_rules(RULES, PARAMS, loaded)
    dates = [as_of + dt.timedelta(days=k) for k in range(days + 1)]
    daily = []
    for start in range(0, len(dates), BATCH_DAYS):
        batch = dates[start:start + BATCH_DAYS]
        requests = [Request(loaded.index, judged, PARAMS.values(), day) for day in batch]
        daily += [_keys(run_check(path, RULES, PARAMS, request.as_of, loaded=loaded,
                                  evaluator=batch_evaluator(request, evaluation)))
                  for request, evaluation in zip(requests, evaluate_many(requests))]
    first: dict = {}
    for k, keys in enumerate(daily):
        for key in sorted(keys - daily[0]):
            first.setdefault(key, as_of + dt.timedelta(days=k))
    return loaded, daily, first


def _assert_forecast_is_exact(path, as_of: dt.date, days: int):
    loaded, daily, first = _brute_force(path, as_of, days)
    forecast = build_forecast(path, RULES, PARAMS, as_of, days, loaded=loaded)
    assert forecast["errors"] == []
    listed = {(i["fingerprint"], i["client"]): dt.date.fromisoformat(i["due_date"]) for i in forecast["due"]}
    assert listed == first
    # The change dates hold every day on which a partition's findings change, in either direction.
    by_date = partition_change_dates(loaded, judged_rules(RULES, PARAMS, loaded), PARAMS.values(), as_of,
                                     as_of + dt.timedelta(days=days))
    for k in range(1, days + 1):
        changed = {client or CB_PARTITION for _fp, client in daily[k] ^ daily[k - 1]}
        assert changed <= by_date.get(as_of + dt.timedelta(days=k), set()), as_of + dt.timedelta(days=k)
    return forecast


def test_demo_forecast_is_what_check_finds_day_by_day():
    forecast = _assert_forecast_is_exact(Path("fixtures/demo-cb"), dt.date(2026, 6, 1), 60)
    assert forecast["summary"]["due"] >= 3     # the window was chosen so that findings fall due


@pytest.mark.parametrize("seed, due", [(0, {"2024-12-31", "2025-01-03"}), (2, {"2025-01-01"})])
def test_generated_cb_forecast_across_a_year_end(tmp_path, seed, due):
    # The generator's seeded sets 0 and 2 have findings falling due on 31 December, 1 January
    # (certified years, which move with the year) and 3 January: the window spans them.
    records = seeded_record_sets([seed], max_clients=4)[0]
    (tmp_path / "records.yaml").write_text(yaml.safe_dump(records, sort_keys=False), encoding="utf-8")
    forecast = _assert_forecast_is_exact(tmp_path, dt.date(2024, 12, 20), 20)
    assert {i["due_date"] for i in forecast["due"]} == due
