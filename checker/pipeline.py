"""The one-way pipeline behind `cbcheck check` and `cbcheck validate`:
read -> validate -> index -> (catalog) -> evaluate -> report model."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from checker.catalog.evidence import evidence_gaps, judged_part
from checker.catalog.loader import Rule, default_rules_dir, load_catalog
from checker.catalog.parameters import Parameters, load_parameters
from checker.competence import people
from checker.cycles import client_cycles
from checker.engine.cache import line_memo
from checker.engine.cache.catalog import catalog_key, read_catalog, write_catalog
from checker.engine.evaluate import evaluate, evaluate_streamed
from checker.engine.workers import StandingPool
from checker.errors import Problem, sort_problems
from checker.importers.database_url import shown_source
from checker.importers.detect import detect_source
from checker.records.evidence import Evidence, summarise
from checker.records.file_list import FileList
from checker.records.index import RecordIndex, build_index, indexed_owner, unowned
from checker.records.reader import ReadResult, RefusedRecord, input_files, read_records
from checker.records.spill import spill_folder
from checker.records.stream import FirstPass, WholeInputNeeded, first_pass
from checker.records.validate import validate_record
from checker.report.model import build_report

if TYPE_CHECKING:
    from checker.importers.certsearch_options import CertsearchOptions


@dataclass
class LoadedInput:
    read: ReadResult
    index: RecordIndex | None
    problems: list[Problem]
    # problem -> ids of the indexed records it concerns; a problem not here (a file that could
    # not be parsed, a record tied to no known record) concerns the whole input.
    implicated: dict[Problem, tuple[str, ...]] = field(default_factory=dict)


def load_input(path, mapping=None, certsearch: CertsearchOptions | None = None) -> LoadedInput:
    """Read and validate every record; all problems are collected, none stops the others.
    A workbook or a folder of CSV files goes through the importers (with `mapping`, or the
    mapping beside it, or the template's; a CertSearch workbook with `certsearch` options too),
    record files through the record reader."""
    from_importer = detect_source(path) or (certsearch is not None and certsearch.given())
    if from_importer:
        from checker.importers.dispatch import load_source    # only here: see importers/detect.py
        read = load_source(path, mapping, certsearch)
    else:
        read = read_records(path)
    # A record holding a refused value is indexed by its id, type and owner only, and withheld
    # for that problem (reader.RefusedRecord: validate_record gives it); the schemas judge the others.
    schema_found = [(record, validate_record(record)) for record in read.records]
    problems = list(read.problems) + [p for record, found in schema_found for p in found
                                      if not isinstance(record, RefusedRecord)]     # listed by the reader
    # Records that failed their schema are still indexed, so duplicate ids and dangling
    # references among them are reported in the same run.
    index, ref_problems = build_index(read.records)
    problems.extend(ref_problems)
    implicated = {**read.implicated, **index.implicated}
    for record, found in schema_found:
        indexed = isinstance(record.id, str) and index.by_id.get(record.id) is record
        implicated.update((p, (record.id,) if indexed else indexed_owner(record, index)) for p in found)
    return LoadedInput(read, index, sort_problems(problems), implicated)


def withheld_records(loaded: LoadedInput) -> set[str] | None:
    """Ids of the records whose partitions must not be judged (they, or records they read, have
    input errors), or None when a problem concerns no known record: then nothing is judged,
    since any partition could be missing evidence."""
    withheld = set()
    for problem in loaded.problems:
        ids = loaded.implicated.get(problem)
        if not ids:
            return None
        withheld.update(ids)
    return withheld


@dataclass
class LoadedRules:
    rules: list[Rule]
    params: Parameters
    problems: list[Problem]


def load_rules(rules_dir: Path | None, params_file: Path | None, only: set[str] | None = None,
               cache_folder: Path | None = None) -> LoadedRules:
    """The catalog and parameters, and every problem with them (all listed, none raised, as
    load_input does: the caller decides whether the run can go on). With `cache_folder` (a
    --cache folder), a catalog stored there from the same files and code is read back instead,
    and one loaded without problems is stored (engine/cache/catalog.py)."""
    rules_dir = Path(rules_dir) if rules_dir else default_rules_dir()
    key = catalog_key(rules_dir, params_file, only) if cache_folder is not None else None
    stored = read_catalog(cache_folder, key) if key else None
    if stored is not None:
        return LoadedRules(*stored, [])
    params, problems = load_parameters(rules_dir / "parameters.yaml", params_file)
    rules, rule_problems = load_catalog(rules_dir, params, only) if not problems else ([], [])
    problems += rule_problems
    if only:
        unknown = sorted(only - {r.id for r in rules})
        problems += [Problem("--rule", None, "", f"no rule {u!r} in the catalog", "an existing rule id") for u in unknown]
    # Stored only if no file changed while it was read: never a catalog under another's key.
    if key and not problems and catalog_key(rules_dir, params_file, only) == key:
        write_catalog(cache_folder, key, rules, params)
    return LoadedRules(rules, params, sort_problems(problems))


def input_summary(path, loaded: LoadedInput, partitions: int, facts: int) -> dict:
    types = Counter(r.type for r in loaded.read.records if isinstance(r.type, str))
    return _summary(path, len(loaded.read.files_read), loaded.read.files_ignored, len(loaded.read.records), types,
                    partitions, facts)


def _summary(path, files_read: int, files_ignored: list[str], records: int, types: Counter, partitions: int,
             facts: int) -> dict:
    return {
        "path": shown_source(path),
        "files_read": files_read,
        "files_ignored": sorted(files_ignored),
        "records": records,
        "records_by_type": dict(sorted(types.items())),
        "clients": types.get("client", 0),
        "partitions": partitions,
        "facts": facts,
    }


def input_evidence(loaded: LoadedInput) -> Evidence:
    return summarise(loaded.index.by_id.values() if loaded.index else [])


def judged_rules(rules: list[Rule], params: Parameters, loaded: LoadedInput,
                 evidence: Evidence | None = None) -> list[Rule]:
    """The rules a run evaluates, each with only its alternatives whose evidence is complete. An
    alternative whose evidence is incomplete (a record type it reads not supplied at all, no
    entry of the array it starts from, a field the source cannot carry: see
    checker/catalog/evidence.py) is not run, so nothing it would say on partial evidence reaches the findings or the exit
    code; a rule with no such alternative is not_assessed and is not run at all, nor is a rule
    marked not applicable."""
    evidence = evidence or input_evidence(loaded)
    return [judged_part(r, evidence) for r in rules
            if r.id not in params.not_applicable and not evidence_gaps(r, evidence)]


# Streaming bounds memory by the largest client, but reads every record file twice (the first
# pass, then the worker): on the demo's 0.3 MB that costs 40 % more CPU than reading it whole.
# Below this size the whole input costs at most a few tens of MB held at once (about 9x the
# bytes on disk, measured), so it is read whole; the reports are the same either way
# (tests/test_streaming.py).
STREAM_FROM_BYTES = 4 * 1024 ** 2


def _streamed_listing(path, stream: bool):
    """The listing of the record files under `path` (reader.input_files) when it is streamed:
    from STREAM_FROM_BYTES on, or any size with `stream`; None when it is read whole (a problem
    with the listing included: load_input reports it). The first pass takes this listing, so
    an export of 25,000 client folders is walked once (about 1 s of wall time a walk)."""
    listing = input_files(path)
    files, _ignored, problems, _limit = listing
    if problems:
        return None
    total = 0
    for file, _rel in files if not stream else ():
        try:
            total += file.stat().st_size
        except OSError:
            return None        # read whole: load_input reports it
    # Packed (records/file_list.py): the run keeps it to the end, a file per client in folders.
    return (FileList(files), *listing[1:]) if stream or total >= STREAM_FROM_BYTES else None


def run_check(path, rules: list[Rule], params: Parameters, as_of: dt.date, jobs: int = 1,
              on_partition=None, mapping=None, loaded: LoadedInput | None = None, timelines: bool = False,
              evaluator=None, stream: bool = False, cache=None) -> dict:
    """The gap report for the records under `path` (read here unless the caller already has
    them as `loaded`); with `timelines`, each client's cycle and the CB's people for the HTML
    report's timelines and competence matrix. `evaluator`, when given, stands in for
    evaluate() (same arguments, same result): `rules test` hands over what it evaluated in a batch.
    With `cache` (a PartitionCache), partitions unchanged since an earlier run are answered from
    it (streamed or not).

    A folder of record files from STREAM_FROM_BYTES on (any size with `stream`) is streamed
    (records/stream.py): one pass indexes the records and drops their data, and each client's
    records are read again, validated and judged in a worker. An input with a problem no record
    owns, and a run that needs the whole index (`loaded` given, timelines, `evaluator`), read it
    whole; both report the same."""
    listing = (_streamed_listing(path, stream) if loaded is None and not timelines and evaluator is None
               and not detect_source(path) else None)
    if listing is not None:
        counted = replace(cache.stats) if cache is not None else None
        try:
            return _run_streamed(path, listing, rules, params, as_of, jobs, on_partition, cache)
        except WholeInputNeeded:
            pass    # read it whole: load_input lists every problem, as it always did
        if cache is not None:
            cache.stats = counted     # the whole-input run counts every partition again
    loaded = loaded or load_input(path, mapping)
    errors = [p.as_dict() for p in loaded.problems]
    findings, failed_scopes, not_evaluated, partitions, facts, applied = [], {}, {}, 0, 0, None
    withheld = withheld_records(loaded)
    input_ok = withheld is not None
    evidence = input_evidence(loaded)
    if input_ok:
        judged = judged_rules(rules, params, loaded, evidence)
        evaluate_with = evaluator or partial(evaluate, cache=cache)
        result = evaluate_with(loaded.index, judged, params.values(), as_of, jobs, on_partition, withheld)
        findings, partitions, facts = result.findings, result.partitions, result.facts
        errors += [p.as_dict() for p in result.partition_errors]
        failed_scopes, not_evaluated, applied = result.failed_scopes, result.not_evaluated, result.applied
    return build_report(rules=rules, findings=findings, errors=errors, params=params, as_of=as_of.isoformat(),
                        input_summary=input_summary(path, loaded, partitions, facts), evidence=evidence,
                        failed_scopes=failed_scopes, input_ok=input_ok, not_evaluated=not_evaluated,
                        cycles=client_cycles(loaded.index) if timelines else None,
                        people=people(loaded.index) if timelines else None, applied=applied)


def _first_problems(first: FirstPass) -> tuple[list[Problem], set[str]]:
    """(the input problems the first pass can see: references, duplicates, the records it keeps
    whole or could not index, each validated here; the ids of the records they withhold).
    Raises WholeInputNeeded when one concerns no known record: nothing is judged then, and the
    whole-input path lists every problem."""
    index = first.index
    withheld = {rid for ids in index.implicated.values() for rid in ids}
    problems = list(first.problems)
    for record in first.unindexed:
        found = validate_record(record)
        if found and not indexed_owner(record, index):
            raise WholeInputNeeded(record.file)
        problems += found
        withheld.update(indexed_owner(record, index) if found else ())
    # The CB-wide records (no client owns them), each validated here: the index keeps their ids
    # apart (records/owners.Owners.unowned), not a walk over every record's.
    for rid in unowned(index.owner_client):
        found = validate_record(index.by_id[rid])
        problems += found
        withheld.update([rid] if found else [])
    return problems, withheld


def _run_streamed(path, listing, rules: list[Rule], params: Parameters, as_of: dt.date, jobs: int, on_partition,
                  cache=None) -> dict:
    # The first pass's parse of each YAML or JSON file is spilled for the local workers that
    # read it again (records/spill.py), and spread over as many processes as they will be; a
    # cluster's workers may be elsewhere: they parse it.
    # Local workers are forked before the first pass builds the index (workers.StandingPool), so
    # the index is in the main process only, and nothing written there is copied.
    local = isinstance(jobs, int)
    with spill_folder(wanted=local) as spill, (StandingPool(jobs) if local else nullcontext(jobs)) as runs_on:
        with line_memo(cache) as memo:      # a cache's memo of last night's JSON Lines chunks
            first = first_pass(path, spill, jobs if local else 1, listing, memo)
        problems, withheld = _first_problems(first)
        judged = judged_rules(rules, params, None, first.evidence)
        result, found = evaluate_streamed(first, judged, params.values(), as_of, runs_on, on_partition, withheld,
                                          cache)
    errors = [p.as_dict() for p in sort_problems(problems + found)] + [p.as_dict() for p in result.partition_errors]
    summary = _summary(path, len(first.files), first.files_ignored, first.records, first.records_by_type,
                       result.partitions, result.facts)
    return build_report(rules=rules, findings=result.findings, errors=errors, params=params, as_of=as_of.isoformat(),
                        input_summary=summary, evidence=first.evidence, failed_scopes=result.failed_scopes,
                        input_ok=True, not_evaluated=result.not_evaluated, cycles=None, people=None,
                        applied=result.applied)
