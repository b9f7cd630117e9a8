"""`check --cache DIR`: a cached run's report is byte for byte an uncached one's (the JSON's
summary "cache" key aside), across the night a first surveillance falls overdue too; every
part of an entry's key misses when it changes; a corrupt entry or file is a miss, never a crash;
the cache holds only the partitions of the last run."""
import datetime as dt
import json
import multiprocessing
import shutil
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from checker.catalog.as_of_terms import date_sensitivity
from checker.engine.cache import PartitionCache, keys, store
from checker.engine.cache.store import CACHE_FILE, Entry, EntryStore
from checker.engine.change_dates import change_dates, steady_span
from checker.engine.driver import partition_tasks, shared_records
from checker.engine.evaluate import EngineJudge, compile_catalog
from checker.engine.partition import RULE_SCOPES
from checker.engine.prepare import SharedFacts
from checker.importers import database_demo
from checker.pipeline import LoadedRules, judged_rules, load_input, load_rules, run_check
from checker.report import json_out, text
from cli import main

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "fixtures" / "demo-cb"
# Newco's certification was granted on 2025-11-20 and no surveillance followed: CYC002 (first
# surveillance within 12 months of the decision) has no finding on 2026-11-20 and one from
# 2026-11-21, the night the cache must notice.
NEWCO = [{"type": "client", "id": "newco", "name": "Newco Ltd"},
         {"type": "audit", "id": "newco-s1", "client": "newco", "audit_type": "stage1", "start_date": "2025-09-01",
          "end_date": "2025-09-01"},
         {"type": "decision", "id": "newco-grant", "client": "newco", "decision_type": "grant", "date": "2025-11-20"}]
EVE, NIGHT = "2026-11-20", "2026-11-21"
REPORT_SCHEMA = json.loads((ROOT / "checker" / "report" / "report.schema.json").read_text())
FORMATS = ("text", "json", "html", "markdown", "junit", "sarif", "oscal")


@pytest.fixture(scope="module")
def cb(tmp_path_factory) -> Path:
    """The demo CB with Newco added."""
    folder = tmp_path_factory.mktemp("cache") / "cb"
    shutil.copytree(DEMO, folder)
    (folder / "clients" / "newco").mkdir()
    (folder / "clients" / "newco" / "records.yaml").write_text(yaml.safe_dump(NEWCO, sort_keys=False))
    return folder


@pytest.fixture(scope="module")
def catalog() -> LoadedRules:
    return load_rules(None, None)


def check(source, out: Path, as_of: str, *extra, formats=("text", "json")) -> dict[str, bytes]:
    """Every format asked for of one `cbcheck check` run, as bytes; the run must exit 0."""
    out.mkdir(parents=True, exist_ok=True)
    args = ["check", str(source), "--as-of", as_of, "--fail-on", "none", "--quiet", "-o", str(out / "report.txt")]
    args += [a for fmt in formats[1:] for a in ("--also", f"{fmt}={out / ('report.' + fmt)}")]
    assert formats[0] == "text"
    result = CliRunner().invoke(main, args + [str(e) for e in extra], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return {fmt: (out / ("report.txt" if fmt == "text" else f"report.{fmt}")).read_bytes() for fmt in formats}


def without_cache_key(reports: dict[str, bytes]) -> tuple[dict[str, bytes], dict]:
    """(the reports with the JSON summary's "cache" key taken out, that key)."""
    report = json.loads(reports["json"])
    Draft202012Validator(REPORT_SCHEMA).validate(report)
    stats = report["summary"].pop("cache")
    return {**reports, "json": (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode()}, stats


def cached(cb, tmp_path, name, as_of, *extra, formats=("text", "json")):
    return without_cache_key(check(cb, tmp_path / name, as_of, "--cache", tmp_path / "cache", *extra,
                                   formats=formats))


def findings(reports: dict[str, bytes], rule: str) -> list[str]:
    return [f["client"] for f in json.loads(reports["json"])["findings"] if f["rule_id"] == rule]


def report(source, catalog: LoadedRules, as_of: str = NIGHT, cache: Path | None = None, mapping=None):
    """(the JSON report of a check through the pipeline, what the cache did): cheaper than the
    command line, for the tests that need no other format."""
    partition_cache = PartitionCache(cache) if cache else None
    assert partition_cache is None or partition_cache.prepare() is None
    model = run_check(str(source), judged := catalog.rules, catalog.params, dt.date.fromisoformat(as_of),
                      mapping=mapping, cache=partition_cache)
    assert judged and not model["errors"], model["errors"]
    return json_out.render(model), partition_cache.stats.as_dict() if cache else None


@pytest.fixture(scope="module")
def night(cb, catalog) -> str:
    return report(cb, catalog)[0]


@pytest.fixture(scope="module")
def filled(cb, catalog, tmp_path_factory) -> Path:
    """A cache filled by a run on NIGHT (copy it before use: runs change it)."""
    folder = tmp_path_factory.mktemp("filled")
    assert report(cb, catalog, cache=folder)[1]["stored"] == 13
    return folder


@pytest.fixture
def cache(filled, tmp_path) -> Path:
    return Path(shutil.copytree(filled, tmp_path / "cache"))


def test_a_cached_run_is_the_uncached_one_byte_for_byte_across_the_night_a_surveillance_falls_overdue(cb, tmp_path):
    eve = check(cb, tmp_path / "eve", EVE)
    night = check(cb, tmp_path / "night", NIGHT, formats=FORMATS)
    assert "newco" not in findings(eve, "CYC002") and "newco" in findings(night, "CYC002")

    cold, stats = cached(cb, tmp_path, "cold", EVE)
    assert cold == eve and stats["new"] == stats["partitions"] == 13 and stats["stored"] == 13
    warm, stats = cached(cb, tmp_path, "warm", NIGHT, formats=FORMATS)
    assert warm == night                  # every format: text, json, html, markdown, junit, sarif, oscal
    assert stats["date"] >= 1 and stats["reused"] >= 1 and stats["reused"] + stats["date"] == 13

    back, stats = cached(cb, tmp_path, "back", EVE)    # entries of the night, read for the eve
    assert back == eve and stats["date"] >= 1 and stats["reused"] >= 1


def test_messages_with_the_date_are_worded_for_this_run(cb, catalog, cache):
    """A reused verdict's findings are made with this run's --as-of (CYC002 says "as of ...")."""
    text, stats = report(cb, catalog, "2026-11-22", cache)
    assert stats["reused"] == 13
    (message,) = [f["message"] for f in json.loads(text)["findings"] if f["rule_id"] == "CYC002" and f["client"] == "newco"]
    assert "as of 2026-11-22" in message


def test_jobs_baseline_and_history_work_on_a_cached_run(cb, cache, tmp_path):
    baseline = tmp_path / "baseline.json"
    baseline.write_bytes(cached(cb, tmp_path, "first", NIGHT)[0]["json"])
    history = tmp_path / "history.sqlite"
    reports, stats = cached(cb, tmp_path, "jobs", NIGHT, "--jobs", "2", "--history", history, "--baseline", baseline)
    assert stats["reused"] == 13
    assert {f["baseline_status"] for f in json.loads(reports["json"])["findings"]} == {"persisting"}
    assert sqlite3.connect(history).execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    assert reports == check(cb, tmp_path / "uncached", NIGHT, "--history", tmp_path / "other.sqlite",
                            "--baseline", baseline)


def _edited(cb: Path, copy: Path, path: str, record_id: str, **change) -> Path:
    shutil.copytree(cb, copy)
    target = copy / path
    records = yaml.safe_load(target.read_text())
    next(r for r in records if r["id"] == record_id).update(change)
    target.write_text(yaml.safe_dump(records, sort_keys=False))
    return copy


def _tasks(folder: Path, catalog: LoadedRules):
    loaded = load_input(folder)
    rules = judged_rules(catalog.rules, catalog.params, loaded)
    return partition_tasks(loaded.index, rules, catalog.params.values(), set())[0]


def test_a_changed_client_misses_alone(cb, catalog, cache, tmp_path):
    edited = _edited(cb, tmp_path / "cb", "clients/newco/records.yaml", "newco-grant", date="2025-11-10")
    text, stats = report(edited, catalog, cache=cache)
    assert (stats["changed"], stats["reused"]) == (1, 12)
    assert text == report(edited, catalog)[0]


def test_a_changed_shared_record_misses_where_it_is_read(cb, catalog, cache, tmp_path):
    person = yaml.safe_load((cb / "cb" / "personnel.yaml").read_text())[0]["id"]
    edited = _edited(cb, tmp_path / "cb", "cb/personnel.yaml", person, name="Renamed")
    readers = [t.sid for t in _tasks(edited, catalog) if person in t.shared or t.sid == "__cb__"]
    text, stats = report(edited, catalog, cache=cache)
    assert stats["changed"] == len(readers) and stats["reused"] == 13 - len(readers) > 0
    assert text == report(edited, catalog)[0]


def test_parameters_and_rules_are_in_every_key(cb, catalog, filled, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("parameters:\n  first_surveillance_max_months: 13\n")
    rules = Path(shutil.copytree(ROOT / "rules", tmp_path / "rules"))
    same = load_rules(rules, None)
    rule = rules / "iso17021-1" / "9.1.3.3-first-surveillance.yaml"
    rule.write_text(rule.read_text().replace("status is not 'cancelled'", "status is not 'planned'"))
    # Other parameters, --rule, an edited rule: every entry misses; the same rules elsewhere: none.
    for n, (other, changed) in enumerate([(load_rules(None, params), 13), (load_rules(None, None, {"CYC002"}), 13),
                                          (load_rules(rules, None), 13), (same, 0)]):
        _text, stats = report(cb, other, cache=shutil.copytree(filled, tmp_path / f"cache{n}"))
        assert (stats["changed"], stats["reused"]) == (changed, 13 - changed), n


def test_cbcheck_and_the_evaluator_are_in_every_key(catalog, monkeypatch):
    params = catalog.params.values()
    digests = {keys.setting_digest(catalog.rules, params, evaluator) for evaluator in ("engine", "reference")}
    monkeypatch.setattr(keys, "__version__", "99.0")
    digests.add(keys.setting_digest(catalog.rules, params, "engine"))
    monkeypatch.setattr(keys, "code_digest", lambda: "0" * 64)
    digests.add(keys.setting_digest(catalog.rules, params, "engine"))
    assert len(digests) == 4


def test_a_task_key_holds_each_part_whatever_its_text():
    """A task's key changes with each of its parts, ids with a lone surrogate too (orjson,
    which makes the keys, refuses one: json digests those)."""
    def key(sid="cl1", scope="client", own="d1", shared=("p1",), digests=None, setting="s"):
        task = SimpleNamespace(sid=sid, scope=scope, digest=own, shared=list(shared))
        return keys.task_digest(task, digests or {"p1": "x", "p2": "y", "\udc80": "z"}, setting)
    variants = [key(), key(sid="cl2"), key(scope="cb"), key(own="d2"), key(shared=("p2",)), key(shared=()),
                key(digests={"p1": "w"}), key(setting="t"), key(sid="cl\udc80"), key(shared=("\udc80",))]
    assert len(set(variants)) == len(variants) and key(sid="cl\udc80") == key(sid="cl\udc80")


def test_a_corrupt_truncated_or_foreign_entry_is_a_miss(cb, catalog, night, cache):
    con = sqlite3.connect(cache / CACHE_FILE)
    good = {sid: json.loads(text) for sid, text in con.execute("SELECT sid, verdict FROM entries")}
    assert good["kestrel"]["matches"], "kestrel has findings: a tampered match must be noticed"
    tampered = {
        "kestrel": '{"sid": "kest',                                                       # truncated
        "saltmarsh": "[]",                                                                 # not an entry
        "lindenbrook": json.dumps({**good["lindenbrook"], "matches": [["NOPE001", 0, {}]]}),    # unknown rule
        "quayside": json.dumps({**good["quayside"], "where": {f: ["no-such-record", ""] for f in good["quayside"]["where"]}}),
        "harbourline": json.dumps({**good["harbourline"], "where": {f: [w[0], "no-slash"] for f, w in good["harbourline"]["where"].items()}}),
        "meridian": json.dumps({**good["meridian"], "applied": good["meridian"]["applied"] + [1]}),   # a count too many
    }
    with con:
        for sid, text in tampered.items():
            con.execute("UPDATE entries SET verdict = ? WHERE sid = ?", (text, sid))
    con.close()
    text, stats = report(cb, catalog, cache=cache)
    assert (stats["unreadable"], stats["reused"]) == (6, 7)
    assert text == night


def test_a_damaged_or_foreign_cache_file_is_read_as_empty_and_replaced(cb, catalog, night, cache):
    path = cache / CACHE_FILE
    path.write_bytes(b"not a database at all" * 100)
    text, stats = report(cb, catalog, cache=cache)
    assert text == night and (stats["unreadable"], stats["stored"]) == (13, 13)
    with sqlite3.connect(path) as con:                # another program's database
        con.execute("DROP TABLE meta")
    assert report(cb, catalog, cache=cache) == (night, {**stats, "stored": 13})
    assert report(cb, catalog, cache=cache)[1]["reused"] == 13


def test_entries_of_partitions_gone_from_the_input_are_pruned(cb, catalog, cache, tmp_path):
    smaller = Path(shutil.copytree(cb, tmp_path / "smaller"))
    shutil.rmtree(smaller / "clients" / "newco")
    stats = report(smaller, catalog, cache=cache)[1]
    assert (stats["reused"], stats["pruned"]) == (12, 1)
    with sqlite3.connect(cache / CACHE_FILE) as con:
        assert {sid for (sid,) in con.execute("SELECT sid FROM entries")} == {t.sid for t in _tasks(smaller, catalog)}


def test_a_database_source_is_cached_the_same_way(catalog, tmp_path):
    db = tmp_path / "demo.db"
    assert database_demo.main([str(DEMO), str(db)]) == 0
    url, mapping = f"sqlite:///{db}", ROOT / "fixtures" / "demo-db" / "db-mapping.yaml"
    expected = report(url, catalog, mapping=mapping)[0]
    assert report(url, catalog, cache=tmp_path / "cache", mapping=mapping)[0] == expected
    assert report(url, catalog, cache=tmp_path / "cache", mapping=mapping) == (expected, {
        "partitions": 12, "reused": 12, "evaluated": 0, "new": 0, "changed": 0, "date": 0, "unreadable": 0,
        "stored": 0, "pruned": 0})


def test_a_cache_path_that_cannot_be_written_is_an_error_before_the_run(cb, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(main, ["check", str(cb), "--cache", str(blocker / "sub")])
    assert result.exit_code == 2 and "--cache" in result.output and "Traceback" not in result.output


def test_a_locked_cache_lets_the_run_go_on_without_it(cb, catalog, night, cache, monkeypatch):
    monkeypatch.setattr(store, "BUSY_SECONDS", 0.05)
    holder = sqlite3.connect(cache / CACHE_FILE, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        text, stats = report(cb, catalog, cache=cache)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert text == night and stats["evaluated"] == 13 and "locked" in stats["problem"]


def _writer(folder: str, n: int):
    store = EntryStore(Path(folder))
    for i in range(20):
        store.write({f"p{n}-{k}": Entry("d" * 64, "2026-01-01", "2026-12-31", json.dumps([n, i, k])) for k in range(50)},
                    keep={f"p{m}-{k}" for m in (0, 1) for k in range(50)})


def test_concurrent_writers_leave_a_whole_cache(tmp_path):
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_writer, args=(str(tmp_path), n)) for n in (0, 1)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
    assert [w.exitcode for w in writers] == [0, 0]
    entries, damaged = EntryStore(tmp_path).read()
    assert not damaged and len(entries) == 100
    assert {json.loads(e.verdict)[1] for e in entries.values()} == {19}


def test_the_steady_span_is_what_change_dates_gives_over_the_year(cb, catalog):
    """The span dated from the facts the engine judges (in the worker) agrees with change_dates
    over the partition's records, derived again: no change date inside it, one just outside."""
    day = dt.date.fromisoformat(NIGHT)
    loaded = load_input(cb)
    params, rules = catalog.params.values(), judged_rules(catalog.rules, catalog.params, loaded)
    shared = shared_records(loaded.index)
    compiled = compile_catalog(rules, NIGHT)
    judge = EngineJudge(compiled.rulesets, params, day.year, compiled.memberships, shared)
    state = ({}, SharedFacts(shared, compiled.memberships))   # the facts only: no engine in the test process
    bounded = 0
    for task in partition_tasks(loaded.index, rules, params, set())[0]:
        sensitivity = date_sensitivity(rules, RULE_SCOPES[task.scope])
        first, last = steady_span(judge.facts(state, task)[0], sensitivity, day)
        records = task.records + [shared[rid] for rid in task.shared]
        dates = change_dates(records, sensitivity, params, dt.date(day.year, 1, 1), dt.date(day.year, 12, 31))
        assert not [d for d in dates if first < d <= last], task.sid
        assert first == dt.date(day.year, 1, 1) or first in dates
        assert last == dt.date(day.year, 12, 31) or last + dt.timedelta(days=1) in dates
        bounded += last < dt.date(day.year, 12, 31)
    assert bounded, "some partition's span ends before the year does"


def streamed(source, catalog: LoadedRules, as_of: str, cache: Path | None = None) -> tuple[dict[str, str], dict]:
    """({"json": ..., "text": ...} of a streamed check (records read again in the worker,
    engine/streamed.py), what the cache did)."""
    partition_cache = PartitionCache(cache) if cache else None
    assert partition_cache is None or partition_cache.prepare() is None
    model = run_check(str(source), catalog.rules, catalog.params, dt.date.fromisoformat(as_of), stream=True,
                      cache=partition_cache)
    return {"json": json_out.render(model), "text": text.render(model)}, partition_cache.stats.as_dict() if cache else None


def whole(source, catalog: LoadedRules, as_of: str) -> dict[str, str]:
    loaded = load_input(source)
    model = run_check(str(source), catalog.rules, catalog.params, dt.date.fromisoformat(as_of), loaded=loaded)
    return {"json": json_out.render(model), "text": text.render(model)}


def test_a_streamed_cached_run_is_the_uncached_and_the_whole_run_across_the_night_both_ways(cb, catalog, tmp_path):
    eve, night = whole(cb, catalog, EVE), whole(cb, catalog, NIGHT)
    assert "newco" not in findings(eve, "CYC002") and "newco" in findings(night, "CYC002")
    assert streamed(cb, catalog, EVE)[0] == eve and streamed(cb, catalog, NIGHT)[0] == night
    folder = tmp_path / "cache"

    cold, stats = streamed(cb, catalog, EVE, folder)
    assert cold == eve and stats["new"] == stats["partitions"] == stats["stored"] == 13
    warm, stats = streamed(cb, catalog, NIGHT, folder)
    assert warm == night and stats["date"] >= 1 and stats["reused"] >= 1 and stats["reused"] + stats["date"] == 13
    back, stats = streamed(cb, catalog, EVE, folder)   # entries of the night, read for the eve
    assert back == eve and stats["date"] >= 1 and stats["reused"] >= 1
    again, stats = streamed(cb, catalog, EVE, folder)
    assert again == eve and stats["reused"] == 13 and stats["pruned"] == 0


def test_a_streamed_run_re_reads_only_the_edited_client(cb, catalog, tmp_path):
    streamed(cb, catalog, NIGHT, tmp_path / "cache")
    edited = _edited(cb, tmp_path / "cb", "clients/newco/records.yaml", "newco-grant", date="2025-11-10")
    reports, stats = streamed(edited, catalog, NIGHT, tmp_path / "cache")
    assert (stats["changed"], stats["reused"], stats["evaluated"]) == (1, 12, 1)
    assert reports == streamed(edited, catalog, NIGHT)[0] == whole(edited, catalog, NIGHT)


def test_a_streamed_night_finds_the_files_of_only_the_tasks_it_judges(cb, catalog, tmp_path, monkeypatch):
    """A reused partition's task is never sent: its files and spill places are not looked for
    (engine/streamed.ClientSources), only the judged client's are."""
    from checker.engine.streamed import ClientSources
    streamed(cb, catalog, NIGHT, tmp_path / "cache")
    edited = _edited(cb, tmp_path / "cb", "clients/newco/records.yaml", "newco-grant", date="2025-11-10")
    found, real = [], ClientSources._files_and_places

    def finding(self):
        if self._found is None:
            found.append(self.own)
        return real(self)
    monkeypatch.setattr(ClientSources, "_files_and_places", finding)
    reports, stats = streamed(edited, catalog, NIGHT, tmp_path / "cache")
    assert (stats["reused"], stats["evaluated"]) == (12, 1) and len(found) == 1
    assert reports == streamed(edited, catalog, NIGHT)[0] and len(found) == 1 + 12


def test_a_streamed_run_misses_where_a_changed_shared_record_is_read_and_not_where_one_moved(cb, catalog, tmp_path):
    """A client's streamed key holds the data of the CB-wide records it reads (the key's
    shared digests), not their places: a person renamed misses in every partition that reads
    them; the people's file rewritten in another order (every line moved, no value changed)
    misses only in the CB-wide partition (its key holds its records' places); each report is
    the uncached one."""
    folder = tmp_path / "cache"
    streamed(cb, catalog, NIGHT, folder)
    people = yaml.safe_load((cb / "cb" / "personnel.yaml").read_text())
    person = people[0]["id"]
    renamed = _edited(cb, tmp_path / "renamed", "cb/personnel.yaml", person, name="Renamed")
    readers = [t.sid for t in _tasks(renamed, catalog) if person in t.shared or t.sid == "__cb__"]
    reports, stats = streamed(renamed, catalog, NIGHT, shutil.copytree(folder, tmp_path / "cache1"))
    assert stats["changed"] == len(readers) and stats["reused"] == 13 - len(readers) > 0
    assert reports == streamed(renamed, catalog, NIGHT)[0]
    moved = Path(shutil.copytree(cb, tmp_path / "moved"))
    (moved / "cb" / "personnel.yaml").write_text(yaml.safe_dump(people[::-1], sort_keys=False))
    reports, stats = streamed(moved, catalog, NIGHT, shutil.copytree(folder, tmp_path / "cache2"))
    assert (stats["changed"], stats["reused"]) == (1, 12)
    assert reports == streamed(moved, catalog, NIGHT)[0]


def test_a_streamed_night_reuses_the_cb_wide_verdict_until_what_the_clients_give_it_changes(cb, catalog, tmp_path):
    """The CB-wide partition's key is the pseudo-records the clients' shares add up to: a night
    that changes a client but none of what it gives the CB-wide kinds reuses the CB-wide
    verdict (its finding located from the shares' places, read from no entry of its own); a
    certificate number a third client's certificate now carries changes it."""
    numbered = _edited(cb, tmp_path / "numbered", "clients/oakhurst/certificates.yaml", "ok-cert-1",
                       number="DCL-SMS-0101")      # northwind's
    folder = tmp_path / "cache"
    assert streamed(numbered, catalog, NIGHT, folder)[1]["stored"] == 13
    quiet = _edited(numbered, tmp_path / "quiet", "clients/newco/records.yaml", "newco-grant", date="2025-11-10")
    reports, stats = streamed(quiet, catalog, NIGHT, folder)
    assert (stats["changed"], stats["reused"]) == (1, 12) and findings(reports, "CRT020") == [None]
    assert reports == whole(quiet, catalog, NIGHT)
    third = _edited(quiet, tmp_path / "third", "clients/quayside/certificates.yaml", "qs-cert-2", number="dcl-sms-0101")
    reports, stats = streamed(third, catalog, NIGHT, folder)
    assert (stats["changed"], stats["reused"]) == (2, 11)        # quayside and the CB-wide partition
    assert reports == streamed(third, catalog, NIGHT)[0] == whole(third, catalog, NIGHT)
    shared = [f["message"] for f in json.loads(reports["json"])["findings"] if f["rule_id"] == "CRT020"]
    assert len(shared) == 1 and "of 3 different clients" in shared[0] and "qs-cert-2 (quayside)" in shared[0]


def test_a_streamed_run_lists_the_input_errors_of_a_client_every_time(cb, catalog, tmp_path):
    """A client whose records fail their schema (found in the worker) is never stored: each run
    reads it again and lists its errors; the other partitions are reused."""
    broken = _edited(cb, tmp_path / "cb", "clients/newco/records.yaml", "newco-grant", date="not a date")
    expected = streamed(broken, catalog, NIGHT)[0]
    assert json.loads(expected["json"])["errors"] and expected == whole(broken, catalog, NIGHT)
    first, stats = streamed(broken, catalog, NIGHT, tmp_path / "cache")
    assert first == expected and stats["stored"] == stats["partitions"] - 1
    second, stats = streamed(broken, catalog, NIGHT, tmp_path / "cache")
    assert second == expected and (stats["reused"], stats["evaluated"]) == (stats["partitions"] - 1, 1)


def test_a_tampered_streamed_entry_or_one_of_a_whole_run_is_a_miss(cb, catalog, cache, tmp_path):
    """A whole-input run's entries key other digests (changed); a streamed entry that lost what
    the reading gave, or names a record not in the input, is unreadable."""
    night = streamed(cb, catalog, NIGHT)[0]
    reports, stats = streamed(cb, catalog, NIGHT, cache)
    assert reports == night and stats["changed"] == 13
    con = sqlite3.connect(cache / CACHE_FILE)
    good = {sid: json.loads(text) for sid, text in con.execute("SELECT sid, verdict FROM entries")}
    assert good["kestrel"]["located"] and good["kestrel"]["cb_inputs"]
    place = next(iter(good["kestrel"]["located"].values()))
    tampered = {
        "kestrel": json.dumps({k: v for k, v in good["kestrel"].items() if k != "cb_inputs"}),
        "saltmarsh": json.dumps({**good["saltmarsh"], "located": {"no-such-record": place}}),
        "lindenbrook": json.dumps({**good["lindenbrook"], "cb_inputs": {
            **good["lindenbrook"]["cb_inputs"], "shared_certificate_number": [["x", "c", "no-such-record", "x"]]}}),
        "quayside": json.dumps({**good["quayside"], "located": {k: {**v, "first_line": "1"}
                                                                for k, v in good["quayside"]["located"].items()}}),
    }
    with con:
        for sid, entry in tampered.items():
            con.execute("UPDATE entries SET verdict = ? WHERE sid = ?", (entry, sid))
    con.close()
    reports, stats = streamed(cb, catalog, NIGHT, cache)
    assert reports == night and (stats["unreadable"], stats["reused"]) == (4, 9)


def test_a_longer_line_early_in_a_json_lines_export_misses_only_its_own_client(cb, catalog, tmp_path):
    """A streamed key takes a record's bytes, file and line, not its byte offset: a renamed
    client near the top of one JSON Lines file moves every later line, and only it misses."""
    records = [r.data for r in load_input(cb).read.records]
    export = tmp_path / "export"
    export.mkdir()
    (export / "records.jsonl").write_text("".join(json.dumps(r, default=str) + "\n" for r in records))
    streamed(export, catalog, NIGHT, tmp_path / "cache")
    first_client = next(r for r in records if r["type"] == "client")
    lines = (export / "records.jsonl").read_text().splitlines()
    at = next(n for n, line in enumerate(lines) if json.loads(line) == json.loads(json.dumps(first_client, default=str)))
    lines[at] = json.dumps({**json.loads(lines[at]), "name": first_client["name"] + " (renamed)"})
    (export / "records.jsonl").write_text("\n".join(lines) + "\n")
    reports, stats = streamed(export, catalog, NIGHT, tmp_path / "cache")
    assert (stats["changed"], stats["reused"]) == (1, stats["partitions"] - 1)
    assert reports == streamed(export, catalog, NIGHT)[0]


def test_reused_verdicts_are_given_a_batch_of_entries_at_a_time(tmp_path, monkeypatch):
    """The entries' keys and dates are read first (_valid), then their verdicts a batch at a
    time, each batch's given before the next is read (read whole, the entries of 10,000 clients
    were 86 MB of text held at once); what each task counts as stays what a whole read gives."""
    from checker.engine.cache import runner
    cache = PartitionCache(tmp_path)
    day = dt.date(2026, 6, 1)
    stored = {f"c{n:03}": Entry(f"key{n}", "2026-01-01", "2026-12-31" if n % 5 else "2026-05-01", f"v{n}")
              for n in range(600)}
    cache.store.write(stored, keep=set(stored))
    tasks = [SimpleNamespace(sid=f"c{n:03}", scope="client") for n in range(700)]
    keys_of = {t.sid: f"key{int(t.sid[1:])}" if int(t.sid[1:]) % 7 else "other" for t in tasks}
    monkeypatch.setattr(runner.entries, "decode", lambda text, sid, *_a, **_k: SimpleNamespace(sid=sid, text=text))
    read = []
    batches = cache.store.batches

    def counted(size=256, sids=None, texts=True):
        for batch in batches(size, sids, texts):
            read.append((len(batch), texts, {entry.verdict for _sid, entry in batch} == {""}))
            yield batch
    monkeypatch.setattr(cache.store, "batches", counted)
    setting = runner.CacheSetting([], {}, day, {}, set(), object)
    valid = [f"c{n:03}" for n in range(600) if n % 5 and n % 7]
    assert runner._valid(cache, tasks, keys_of, setting) == set(valid)
    assert read == [(256, False, True), (256, False, True), (88, False, True)]      # no verdict read yet
    stats = cache.stats
    assert (stats.reused, stats.new, stats.changed, stats.date) == (0, 100, 86, 102)
    read.clear()
    given, lost = [], []
    for verdict in runner._reused(cache, [t for t in tasks if t.sid in valid], keys_of, setting, lost):
        given.append((verdict.sid, len(read)))
        assert verdict.text == f"v{int(verdict.sid[1:])}"
    assert read == [(256, True, False), (256, True, False), (88, True, False)]
    assert given[0][1] == 1 and given[-1][1] == 3      # the first given before the second batch was read
    assert [sid for sid, _batches in given] == valid and lost == []
    assert (stats.reused, stats.new, stats.changed, stats.date) == (len(valid), 100, 86, 102)
    assert stats.evaluated == 700 - len(valid) and stats.partitions == 700
