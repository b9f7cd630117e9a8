"""cbcheck's command line: parse options, call the pipeline, pick the exit code."""
from __future__ import annotations

import datetime as dt
import importlib
import json
import sys
from pathlib import Path

import click

from checker import __version__
from checker.archive_limits import Limits
from checker.catalog.loader import default_rules_dir
from checker.engine.cache import PartitionCache
from checker.errors import Problem, ProblemsFound
from checker.history import DEFAULT_DB
from checker.importers.database_url import shown_source
from checker.importers.detect import IMPORT_FORMATS
from checker.output_files import OutputError, folder_problem, target_problems, write_files
from checker.pipeline import load_input, load_rules, run_check
from checker.plain_text import shown
from checker.process_guard import guarded
from checker.report import json_out, text
from checker.report.model import FAIL_ON, exit_code


def _imported_when_called(module: str, name: str):
    """`module`'s function `name`, imported when first called: the HTML renderers load Jinja2
    and the JUnit one ElementTree, a fifth of the start-up a nightly `check --format json`
    pays for modules it never calls; so do the other commands' modules, the other renderers,
    and the options a nightly run does not give (forecast, baseline, waivers, history,
    explain, prescreen; the explanations' module, 0.04 s of a night's start-up, is asked
    only which report each format renders)."""
    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)
    return call


render_list = _imported_when_called("checker.catalog.show", "render_list")
render_rule = _imported_when_called("checker.catalog.show", "render_rule")
build_forecast = _imported_when_called("checker.forecast.compute", "build_forecast")
render_ics = _imported_when_called("checker.forecast.render_ics", "render_ics")
render_json = _imported_when_called("checker.forecast.render_text", "render_json")
render_text = _imported_when_called("checker.forecast.render_text", "render_text")
record_run = _imported_when_called("checker.history", "record_run")
chart_history = _imported_when_called("checker.history", "chart_history")
render_trend = _imported_when_called("checker.history", "render_trend")
trend = _imported_when_called("checker.history", "trend")
explain_fingerprint = _imported_when_called("checker.explain", "explain_fingerprint")
reports_by_format = _imported_when_called("checker.explain", "reports_by_format")
explain_rule = _imported_when_called("checker.explain", "explain_rule")
run_prescreen = _imported_when_called("checker.prescreen", "prescreen")
render_prescreen = _imported_when_called("checker.prescreen.render", "render")
apply_baseline = _imported_when_called("checker.report.baseline", "apply_baseline")
exit_code_new = _imported_when_called("checker.report.baseline", "exit_code_new")
load_report = _imported_when_called("checker.report.baseline", "load_report")
render_explanation_json = _imported_when_called("checker.report.explanation", "render_json")
render_explanation_text = _imported_when_called("checker.report.explanation", "render_text")
apply_waivers = _imported_when_called("checker.report.waivers", "apply_waivers")
load_waivers = _imported_when_called("checker.report.waivers", "load_waivers")
# The importers' (importers/detect.py says why not at start-up).
CertsearchOptions = _imported_when_called("checker.importers.certsearch_options", "CertsearchOptions")
parse_status_option = _imported_when_called("checker.importers.certsearch_options", "parse_status_option")
run_import = _imported_when_called("checker.importers.dispatch", "run_import")
describe_failure = _imported_when_called("checker.ruletest.runner", "describe_failure")
run_catalog = _imported_when_called("checker.ruletest.runner", "run_catalog")
summary_line = _imported_when_called("checker.ruletest.runner", "summary_line")

# Standards a report can be laid out in (--structure): their table of contents is in rules/clauses.yaml.
STRUCTURES = {"20000-6": "ISO/IEC 20000-6:2017"}
LAID_OUT = {"markdown", "junit"}   # renderers that take a structure, beside text and html


RENDERERS = {"text": text.render, "json": json_out.render,
             **{fmt: _imported_when_called(f"checker.report.{fmt}", "render")
                for fmt in ("markdown", "sarif", "oscal", "html", "junit")}}


def _fail(problems, what: str) -> None:
    click.echo(f"cbcheck: {len(problems)} problem(s) in {shown(what)}:", err=True)
    for p in problems:
        click.echo("  " + shown(p.render()), err=True)     # one line each, whatever a file name holds
    sys.exit(2)


def _rules(rules_dir, params_file, only=None, cache: PartitionCache | None = None):
    loaded = load_rules(rules_dir, params_file, only, cache.store.folder if cache is not None else None)
    if loaded.problems:
        _fail(loaded.problems, "the rules or parameters")
    return loaded.rules, loaded.params


class _Progress:
    """A progress bar on stderr for long runs: only on a terminal, never with --quiet, so
    nightly logs and redirected output stay clean."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()
        self.bar = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="Evaluating partitions", file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(1)
        if done == total:
            self.bar.__exit__(None, None, None)


def _check_targets(targets: list[tuple[Path | None, str]]) -> None:
    """Before any work: every output can be written (exit 2 listing those that cannot)."""
    problems = target_problems([(path, option) for path, option in targets if path is not None])
    if problems:
        _fail(problems, "the output files")


def _write(outputs: list[tuple[str, Path | None]]) -> None:
    """Rendered outputs, each to its file (all or none replaced) or, without one, to stdout."""
    try:
        write_files([(path, text_out) for text_out, path in outputs if path is not None])
    except OutputError as exc:
        _fail(exc.problems, "writing the outputs")
    for text_out, path in outputs:
        if path is None:
            click.echo(text_out, nl=False)


def _status_map_option(ctx, param, values) -> dict:
    out = {}
    for value in values:
        try:
            term, ours = parse_status_option(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        out[term] = ours
    return out


def certsearch_options(command):
    """--status-map and --ignore-column, for a source that is an IAF CertSearch upload workbook."""
    command = click.option("--ignore-column", "ignore_columns", multiple=True, metavar="HEADER",
                           help="CertSearch workbook: skip this column outside the template, on any sheet "
                                "(repeatable); also `ignore_columns:` in its mapping file.")(command)
    return click.option("--status-map", "status_map", multiple=True, metavar="TERM=STATUS", callback=_status_map_option,
                        help="CertSearch workbook: what one of your status terms means, e.g. Inactive=withdrawn "
                             "(repeatable; active, suspended, withdrawn, expired or superseded); also `status_map:` "
                             "in its mapping file.")(command)


dask_option = click.option("--dask", "dask_address", metavar="ADDRESS",
                           help="Evaluate the partitions on a running dask.distributed cluster (its scheduler, e.g. "
                                "tcp://SCHEDULER:8786; needs cbcheck[dask]); instead of --jobs. See the README.")


def _workers(jobs: int, dask_address: str | None):
    """What evaluates the partitions: --jobs local processes, or with --dask the cluster's
    workers (connected now, before any input is read; closed when the command ends)."""
    if dask_address is None:
        return jobs
    ctx = click.get_current_context()
    if ctx.get_parameter_source("jobs") is not click.core.ParameterSource.DEFAULT:
        raise click.UsageError("--jobs and --dask are exclusive: --jobs runs local processes, --dask the cluster's "
                               "workers (give each worker --nthreads 1 and start as many as you have cores)")
    from checker.engine.dask_runner import DaskCluster
    cluster = DaskCluster(dask_address)
    ctx.call_on_close(cluster.close)
    return cluster


rules_dir_option = click.option("--rules", "rules_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
                                help="Rule catalog folder (default: the rules shipped with cbcheck).")


class _GuardedGroup(click.Group):
    """Every command ends with a documented exit code: an unexpected exception is reported as
    a cbcheck bug (exit 3, traceback saved to a file), SIGINT and SIGTERM stop cleanly."""

    def invoke(self, ctx):
        with guarded(__version__, passthrough=(click.ClickException, click.exceptions.Exit, click.Abort)):
            try:
                return super().invoke(ctx)
            except ProblemsFound as exc:     # located problems a stage raised: input, not a bug
                _fail(exc.problems, "this run")


@click.group(cls=_GuardedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cbcheck")
def main():
    """Check a certification body's records against ISO/IEC 17021-1:2015 and ISO/IEC 20000-6:2017.

    \b
    Exit codes:
      0    clean: no finding at or above --fail-on
      1    findings at or above --fail-on (coverage: a gap; rules test: a failed case)
      2    usage, input, engine or output errors, all listed
      3    internal error, a bug in cbcheck: stderr names the file holding the traceback
      130  stopped by SIGINT (Ctrl-C); 143 stopped by SIGTERM; 141 stdout closed early"""


@main.command()
@click.argument("path", type=click.Path())     # text, not Path: a database URL's '//' must survive
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The date treated as today for time-dependent checks (YYYY-MM-DD; default: today).")
@click.option("--format", "fmt", type=click.Choice(sorted(RENDERERS)), default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="major", show_default=True,
              help="Exit 1 when a finding of this severity or worse exists.")
@click.option("--params", "params_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML file overriding parameters and marking rules not applicable.")
@click.option("--rule", "only", multiple=True, help="Evaluate only this rule id (repeatable).")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes evaluating partitions in parallel.")
@click.option("--waivers", "waivers_file", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML list of accepted findings (rule, optional client/record, justification, approver, expires).")
@click.option("--baseline", "baseline_file", type=click.Path(dir_okay=False, path_type=Path),
              help="An earlier JSON report: mark findings new or persisting and list resolved ones.")
@click.option("--fail-on-new", is_flag=True, help="With --baseline: exit 1 only for new, unwaived findings.")
@click.option("--history", "history_db", is_flag=False, flag_value=DEFAULT_DB, default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help=f"Store this run in a SQLite history (default file: ./{DEFAULT_DB}).")
@click.option("--mapping", "mapping_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="For a workbook or CSV folder: how its columns map to records (see fixtures/templates); "
                   "for a CertSearch workbook: its status terms and skipped columns (see the README); "
                   "for a database URL: its database mapping (see fixtures/demo-db).")
@click.option("--also", "also", multiple=True, callback=lambda ctx, param, value: [_also(v) for v in value],
              metavar="FORMAT=FILE", help="Also write the same run in another format (repeatable), "
                                          "e.g. --also junit=cbcheck.xml --also sarif=cbcheck.sarif")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary line on stderr.")
@click.option("--all", "full_listing", is_flag=True,
              help="Text format: after the findings and the summary, list every requirement with its status, the "
                   "manual checklist and the parameters (the other formats always include them).")
@click.option("--structure", type=click.Choice(sorted(STRUCTURES)),
              help="List the requirements in this standard's own structure (text with --all, markdown, html, junit): "
                   "20000-6's clauses, each with the 17021-1 requirements it takes over and its SM additions.")
@click.option("--forecast-days", type=click.IntRange(1, 3660), default=None,
              help="HTML report: its first screen also lists what falls due in the next N days (see `forecast`).")
@click.option("--explain", "with_why", is_flag=True,
              help="Add to every finding its explanation (as `cbcheck explain` gives it) in the JSON report; "
                   "the HTML report always carries it as each finding's \"why\".")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep each partition's result in this folder (created if missing) and reuse it in later runs "
                   "while its records, the shared records it reads, the rules, parameters and cbcheck are unchanged "
                   "and no date its result depends on has been passed (README: Nightly runs).")
@certsearch_options
@dask_option
@rules_dir_option
def check(path, as_of, fmt, output, fail_on, params_file, only, jobs, waivers_file, baseline_file, fail_on_new,
          history_db, mapping_file, also, quiet, full_listing, structure, forecast_days, with_why, cache_dir, status_map,
          ignore_columns, dask_address, rules_dir):
    """Check the records under PATH (a folder, a workbook, CSV files, or a database URL such as
    sqlite:///cms.db or postgresql://USER@HOST/DB with --mapping) and report every
    requirement's status.

    Exit codes: 0 no finding at or above --fail-on (waived findings never count); 1 such
    findings (with --fail-on-new: such new findings); 2 usage, input, engine or output errors
    (all listed; outputs are checked before the run and written all or none); 3 a cbcheck
    bug (see `cbcheck --help`)."""
    if fail_on_new and baseline_file is None:
        raise click.UsageError("--fail-on-new needs --baseline PREVIOUS.json (run once without it to create one)")
    if forecast_days and "html" not in (fmt, *(f for f, _ in also)):
        raise click.UsageError("--forecast-days shows in the HTML report: add --format html or --also html=FILE")
    _check_targets([(output, "--output"), *((p, f"--also {f}") for f, p in also), (history_db, "--history")])
    cache = _cache(cache_dir) if cache_dir else None       # first: it holds the loaded catalog too
    rules, params = _rules(rules_dir, params_file, set(only) if only else None, cache)
    jobs = _workers(jobs, dask_address)
    waivers = _waivers(waivers_file, rules_dir, params_file) if waivers_file else None
    previous = _previous_report(baseline_file) if baseline_file else None
    day = as_of.date() if as_of else dt.date.today()
    # Explanations (html, --explain), the forecast and importer options need the whole index;
    # otherwise run_check streams a folder of records (bounded memory).
    # None when not given (what load_input takes as none given): a run over record files
    # then loads no importer (importers/detect.py).
    certsearch = CertsearchOptions(None, status_map, tuple(ignore_columns)) if status_map or ignore_columns else None
    whole = "html" in {fmt, *(f for f, _ in also)} or with_why or forecast_days or certsearch is not None
    loaded = load_input(path, mapping_file, certsearch) if whole else None
    report = run_check(path, rules, params, day, jobs, _Progress(not quiet), mapping_file, loaded=loaded,
                       timelines="html" in {fmt, *(f for f, _ in also)}, cache=cache)
    due = build_forecast(path, rules, params, day, forecast_days, jobs, loaded=loaded) if forecast_days else None
    try:
        if waivers is not None:
            report = apply_waivers(report, waivers, report["as_of"])
        if previous is not None:
            report = apply_baseline(report, previous, source=str(baseline_file))
        if history_db is not None:
            record_run(history_db, report)
    except ProblemsFound as exc:
        _fail(exc.problems, "the baseline or history")
    layout = STRUCTURES[structure] if structure else None
    formats = {fmt, *(f for f, _ in also)}
    # Explanations only where shown (explain.reports_by_format): a run without them does not load them.
    shown_to = (reports_by_format(report, loaded, rules, params, day, formats, with_why)
                if with_why or "html" in formats else dict.fromkeys(formats, report))
    if cache is not None and "json" in shown_to:
        shown_to["json"] = _with_cache_summary(shown_to["json"], cache)
    _write([(_render(fmt, shown_to[fmt], history_db, full_listing, layout, due), output)]
           + [(_render(extra_fmt, shown_to[extra_fmt], history_db, full_listing, layout, due), extra_path)
              for extra_fmt, extra_path in also])
    if not quiet and (output is not None or fmt != "text"):
        s = report["summary"]
        click.echo(f"cbcheck: {s['findings']} finding(s), {s['status']['nonconforming']} nonconforming requirement(s), "
                   f"{s['errors']} error(s)"
                   + (f", {s['not_evaluated']['clients']} client(s) not evaluated" if s.get("not_evaluated") else "")
                   + (f"; report written to {output}" if output else ""), err=True)
    if not quiet and cache is not None:
        click.echo(f"cbcheck: cache {shown(str(cache_dir))}: {cache.stats.line()}", err=True)
    sys.exit(exit_code_new(report, fail_on) if fail_on_new else exit_code(report, fail_on))


def _cache(folder: Path) -> PartitionCache:
    cache = PartitionCache(folder)
    problem = cache.prepare()
    if problem:
        _fail([problem], "the --cache folder")
    return cache


def _with_cache_summary(report: dict, cache: PartitionCache) -> dict:
    """The JSON report with what the cache did in its summary ("cache"): only with --cache, and
    only in JSON, so every other format of a cached run is byte for byte the uncached one."""
    return {**report, "summary": {**report["summary"], "cache": cache.stats.as_dict()}}


FORECAST_RENDERERS = {"text": render_text, "json": render_json, "ics": render_ics,
                      "html": _imported_when_called("checker.forecast.render_html", "render_html")}


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--days", type=click.IntRange(1, 3660), required=True,
              help="How far ahead to look: the findings that appear on any of the next N days.")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The day to look ahead from (YYYY-MM-DD; default: today); its own findings are not listed.")
@click.option("--format", "fmt", type=click.Choice(sorted(FORECAST_RENDERERS)), default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the forecast here.")
@click.option("--params", "params_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML file overriding parameters and marking rules not applicable.")
@click.option("--rule", "only", multiple=True, help="Forecast only this rule id (repeatable).")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes evaluating partitions in parallel.")
@click.option("--mapping", "mapping_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="For a workbook or CSV folder: how its columns map to records.")
@dask_option
@rules_dir_option
@certsearch_options
def forecast(path, days, as_of, fmt, output, params_file, only, jobs, mapping_file, dask_address, rules_dir, status_map,
             ignore_columns):
    """List every finding that will appear within DAYS days if nothing is done, with the day
    it appears, the rule, client, record and what to do by when, grouped by week.

    Computed from the rules: each client's records are evaluated on the days on which their
    result can change. Exit codes: 0 nothing falls due; 1 something falls due; 2 usage,
    input or engine errors (all listed)."""
    _check_targets([(output, "--output")])
    rules, params = _rules(rules_dir, params_file, set(only) if only else None)
    jobs = _workers(jobs, dask_address)
    day = as_of.date() if as_of else dt.date.today()
    result = build_forecast(path, rules, params, day, days, jobs, mapping_file,
                            certsearch=CertsearchOptions(None, status_map, tuple(ignore_columns)))
    _write([(FORECAST_RENDERERS[fmt](result), output)])
    sys.exit(2 if result["errors"] else 1 if result["due"] else 0)


def _also(value: str) -> tuple[str, Path]:
    fmt, sep, path = value.partition("=")
    if not sep or fmt not in RENDERERS or not path:
        raise click.BadParameter(f"{value!r}: expected FORMAT=FILE with FORMAT one of {', '.join(sorted(RENDERERS))}")
    return fmt, Path(path)


def _render(fmt: str, report: dict, history_db: Path | None, full_listing: bool = False,
            structure: str | None = None, forecast: dict | None = None) -> str:
    if fmt == "html":
        return RENDERERS["html"](report, chart_history(history_db) if history_db is not None else None,
                                 structure=structure, forecast=forecast)
    if fmt == "text":
        return text.render(report, full=full_listing, structure=structure)
    return RENDERERS[fmt](report, structure=structure) if fmt in LAID_OUT else RENDERERS[fmt](report)


def _waivers(path: Path, rules_dir, params_file):
    # Every rule id of the catalog is known, even when --rule narrows the run, so a waiver for
    # a rule not selected this time is not rejected as unknown.
    catalog, _params = _rules(rules_dir, params_file)
    waivers, problems = load_waivers(path, {r.id for r in catalog})
    if problems:
        _fail(problems, str(path))
    return waivers


def _previous_report(path: Path) -> dict:
    if not path.exists():
        _fail([Problem(str(path), None, "", "no such baseline report",
                       "a JSON report of an earlier run; run once without --baseline to create it")], str(path))
    previous, problems = load_report(path)
    if problems:
        _fail(problems, str(path))
    return previous


@main.command()
@click.argument("path", type=click.Path())     # text, not Path: a database URL's '//' must survive
@click.argument("fingerprint", required=False)
@click.option("--rule", "rule_id", help="Explain this rule for one client (with --client or --cb-wide) "
                                        "instead of one finding.")
@click.option("--client", help="With --rule: the client whose findings (or pass) to explain.")
@click.option("--cb-wide", is_flag=True, help="With --rule: the CB's own records (findings with no client).")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The date treated as today, as in the check being explained (YYYY-MM-DD; default: today).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the explanation here.")
@click.option("--params", "params_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The parameters file of the check being explained.")
@click.option("--mapping", "mapping_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="As for check: the mapping of a workbook, CSV folder or database URL.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True)
@rules_dir_option
@certsearch_options
def explain(path, fingerprint, rule_id, client, cb_wide, as_of, fmt, output, params_file, mapping_file, jobs,
            rules_dir, status_map, ignore_columns):
    """Explain why a finding fired: the rule in full, each record it matched with file, line and
    the values compared, and for each `absent` clause every candidate record with the condition
    it failed. FINGERPRINT is a finding's fingerprint from the check's report (same input,
    parameters and --as-of). With --rule ID --client C instead: every finding of that rule for
    that client, or, when it has none, why the requirement passed there.

    The check itself runs first and only its findings are explained. Exit 0 explained; 2 usage
    or input errors, or a fingerprint the check did not produce; 3 an explanation that
    disagrees with the engine (a cbcheck bug)."""
    if (fingerprint is None) == (rule_id is None):
        raise click.UsageError("give FINGERPRINT, or --rule ID with --client C or --cb-wide")
    if rule_id is not None and (client is None) == (not cb_wide):
        raise click.UsageError("--rule needs exactly one of --client C and --cb-wide")
    if rule_id is None and (client is not None or cb_wide):
        raise click.UsageError("--client and --cb-wide go with --rule; a fingerprint names its client already")
    _check_targets([(output, "--output")])
    day = as_of.date() if as_of else dt.date.today()
    certsearch = CertsearchOptions(None, status_map, tuple(ignore_columns))
    if fingerprint is not None:
        rules, params = _rules(rules_dir, params_file)
        document = explain_fingerprint(path, rules, params, day, fingerprint, jobs, mapping_file, certsearch)
    else:
        (rule,), params = _rules(rules_dir, params_file, {rule_id.upper()})
        document = explain_rule(path, rule, params, day, client, jobs, mapping_file, certsearch)
    render = render_explanation_json if fmt == "json" else render_explanation_text
    _write([(render(document), output)])


@main.command()
@click.argument("submission", type=click.Path(path_type=Path))
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The date treated as today (YYYY-MM-DD; default: today).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the result here.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="major", show_default=True)
@click.option("--params", "params_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--max-bytes", type=click.IntRange(min=1), default=Limits().max_bytes, show_default=True,
              help="Largest total uncompressed size accepted.")
@click.option("--max-files", type=click.IntRange(min=1), default=Limits().max_files, show_default=True,
              help="Most files accepted.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--all", "full_listing", is_flag=True,
              help="Text format: also list every requirement with its status, the manual checklist and the parameters.")
@rules_dir_option
def prescreen(submission, as_of, fmt, output, fail_on, params_file, max_bytes, max_files, jobs, quiet, full_listing,
              rules_dir):
    """Pre-screen a CB's submission (a folder or a .zip) for an accreditation body.

    The submission is untrusted: it is copied into a private temporary folder, refusing path
    traversal, absolute paths, links, special files, oversized or over-compressed content.
    Prints a completeness view first (record types, clients, certification cycles present or
    missing, requirements therefore not assessed), then the gap report. Exit 0 complete and
    clean; 1 records missing or findings at or above --fail-on; 2 refused content or errors.
    The private copy is removed however the run ends, SIGINT and SIGTERM included."""
    _check_targets([(output, "--output")])
    rules, params = _rules(rules_dir, params_file)
    day = as_of.date() if as_of else dt.date.today()
    result, code = run_prescreen(submission, rules, params, day, Limits(max_bytes=max_bytes, max_files=max_files),
                                 fail_on=fail_on, jobs=jobs, on_partition=_Progress(not quiet))
    _write([(render_prescreen(result, fmt, full_listing), output)])
    sys.exit(code)


@main.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(IMPORT_FORMATS))
@click.argument("source", type=click.Path())
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="New or empty folder for the YAML records (one folder per client, CB-wide records in cb/).")
@click.option("--mapping", "mapping_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="tabular: column and value mapping (default: beside the source, else the template's); "
                   "certsearch: status terms and skipped columns (default: beside the workbook, if any); "
                   "database: the database mapping (required).")
@click.option("--version", "template_version", type=click.Choice(["legacy", "1.1", "2.0", "2.1"]),
              help="certsearch: the template version (default: detected from the sheets).")
@certsearch_options
def import_(fmt, source, out_dir, mapping_file, template_version, status_map, ignore_columns):
    """Convert a CB's workbook or CSV export (tabular), an IAF CertSearch upload workbook
    (certsearch) or its database (database: a URL and --mapping) into cbcheck records. Every
    refused row, cell and value is listed with sheet or file (table and key), row, column and
    value; with any problem nothing is written (exit 2)."""
    if fmt != "database" and not Path(source).exists():
        raise click.BadParameter(f"{source!r} does not exist", param_hint="SOURCE")
    from checker.importers.export import OUT_DIR_NOT_EMPTY
    where_to = folder_problem(out_dir, OUT_DIR_NOT_EMPTY)
    if where_to:
        _fail([where_to], "--out")
    problems, summary = run_import(fmt, source, out_dir, mapping_file,
                                   CertsearchOptions(template_version, status_map, tuple(ignore_columns)))
    totals = summary.get("totals", summary)
    counts = (f"{totals.get('rows_read', '?')} row(s) read, {totals.get('records_made', '?')} record(s) made, "
              f"{totals.get('rows_refused', 0)} refused")
    if problems:
        if "totals" in summary:
            click.echo(f"{shown_source(source)}: {counts}; nothing written", err=True)
        _fail(problems, shown_source(source))
    click.echo(f"{shown_source(source)}: {counts}; written to {out_dir}")


@main.command()
@click.argument("path", type=click.Path())     # text, not Path: a database URL's '//' must survive
@click.option("--mapping", "mapping_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="For a workbook or CSV folder: how its columns map to records; for a database URL: its mapping.")
@certsearch_options
def validate(path, mapping_file, status_map, ignore_columns):
    """Check the records under PATH (or at a database URL) against their schemas and references only."""
    loaded = load_input(path, mapping_file, CertsearchOptions(None, status_map, tuple(ignore_columns)))
    if loaded.problems:
        _fail(loaded.problems, shown_source(path))
    n = len(loaded.read.records)
    ignored = loaded.read.files_ignored
    # Names are escaped: a newline or terminal escape in a file name must not forge a line.
    click.echo(f"{shown(shown_source(path))}: {n} record(s) in {len(loaded.read.files_read)} file(s) are valid"
               + (f"; {len(ignored)} other file(s) ignored: " + ", ".join(shown(f) for f in ignored) if ignored else ""))


@main.command()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB, show_default=True)
@click.option("--last", type=click.IntRange(1, 1000), default=10, show_default=True, help="How many runs to show.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def history(db, last, fmt):
    """Findings per run and per requirement over the last runs stored with --history."""
    try:
        click.echo(render_trend(trend(db, last), fmt), nl=False)
    except ProblemsFound as exc:
        _fail(exc.problems, str(db))


@main.group()
def rules():
    """Show the rule catalog."""


@rules.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@rules_dir_option
def rules_list(fmt, rules_dir):
    """Every rule: id, standard, clause, severity, automated or manual, title."""
    catalog, _params = _rules(rules_dir, None)
    click.echo(render_list(catalog, fmt), nl=False)


@rules.command("show")
@click.argument("rule_id")
@rules_dir_option
def rules_show(rule_id, rules_dir):
    """One rule in full: requirement, why it matters, how to fix, its check and notes, what it needs."""
    catalog, _params = _rules(rules_dir, None)
    found = [r for r in catalog if r.id == rule_id.upper()]
    if not found:
        click.echo(f"cbcheck: no rule {rule_id!r}; `cbcheck rules list` shows them all", err=True)
        sys.exit(2)
    click.echo(render_rule(found[0], rules_dir or default_rules_dir()), nl=False)


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--structure", type=click.Choice(sorted(STRUCTURES)),
              help="Show the catalog in this standard's own structure (20000-6: its 43 clauses, each with the "
                   "17021-1 requirements it takes over and its SM additions).")
@rules_dir_option
def coverage(fmt, structure, rules_dir):
    """How much of each standard the catalog covers, clause by clause.

    Exit 1 when a clause has no rule or a rule cites a clause the skeleton lacks."""
    from checker.catalog.coverage import coverage as compute, load_clauses, render_structure_text, render_text

    catalog, _params = _rules(rules_dir, None)
    try:
        skeleton = load_clauses(rules_dir or default_rules_dir())
    except ProblemsFound as exc:
        _fail(exc.problems or [Problem("rules/clauses.yaml", None, "", "no clause skeleton beside the rules",
                                       "rules/clauses.yaml")], "the clause skeleton")
    if structure:
        from checker.catalog.coverage import structure_coverage
        cov = structure_coverage(catalog, skeleton, STRUCTURES[structure])
        gaps = cov["uncovered"]
        click.echo(json.dumps(cov, indent=2, ensure_ascii=False) if fmt == "json" else render_structure_text(cov),
                   nl=fmt == "json")
        sys.exit(1 if gaps else 0)
    cov = compute(catalog, skeleton)
    click.echo(json.dumps(cov, indent=2, ensure_ascii=False) if fmt == "json" else render_text(cov), nl=fmt == "json")
    gaps = cov["unknown_clauses"] or any(s["uncovered"] for s in cov["standards"])
    sys.exit(1 if gaps else 0)


@main.command("audit-time")
@click.argument("input_file", metavar="[INPUT.yaml]", required=False,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--persons", type=click.IntRange(min=1), help="Persons doing work under the client's control.")
@click.option("--client", help="The client's name, for the heading.")
@click.option("--factor", "factors", multiple=True, metavar="NAME=JUSTIFICATION",
              help="A factor listed in the parameter audit_time_factors and why it applies (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the calculation here.")
@click.option("--fragment", "fragment_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the application review's audit_time as YAML here.")
@click.option("--params", "params_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML file overriding parameters (Table 1, factors, caps).")
@rules_dir_option
def audit_time_cmd(input_file, persons, client, factors, fmt, output, fragment_file, params_file, rules_dir):
    """Calculate an SMS client's audit time, with its justification step by step.

    INPUT.yaml holds persons, adjustments, sites and integrated standards (see the README);
    --persons and --factor give the same without a file. Exit 0 on success, 2 on problems
    with the input or the parameters (all listed)."""
    from checker.audit_time import audit_time
    from checker.audit_time.render import RENDERERS as AUDIT_TIME_RENDERERS
    from checker.audit_time.render import fragment_yaml

    if input_file is None and persons is None:
        raise click.UsageError("give INPUT.yaml or --persons N")
    _check_targets([(output, "--output"), (fragment_file, "--fragment")])
    _catalog, params = _rules(rules_dir, params_file)
    options = {"persons": persons, "client": client, "adjustments": [_factor_option(f) for f in factors]}
    result, problems = audit_time(input_file, options, params)
    if problems:
        _fail(problems, str(input_file) if input_file else "the audit-time options")
    _write([(AUDIT_TIME_RENDERERS[fmt](result), output),
            *([(fragment_yaml(result), fragment_file)] if fragment_file is not None else [])])


def _factor_option(value: str) -> dict:
    name, sep, why = value.partition("=")
    if not sep or not name.strip() or not why.strip():
        raise click.BadParameter(f"{value!r}: expected NAME=JUSTIFICATION, e.g. few_services='Two hosting services'",
                                 param_hint="--factor")
    return {"factor": name.strip(), "justification": why.strip()}


@rules.command("test")
@click.argument("rule_ids", nargs=-1)
@rules_dir_option
def rules_test(rule_ids, rules_dir):
    """Run the rules' fixtures (each rule's .test.yaml), like `semgrep --test`.

    Every case runs the whole pipeline with only that rule loaded, and the reference
    evaluator must agree with the engine. Exit 1 when a case fails."""
    catalog, params = _rules(rules_dir, None, {r.upper() for r in rule_ids} or None)
    results = []
    for result in run_catalog(catalog, params, rules_dir or default_rules_dir()):
        results.append(result)
        if not result.ok:
            click.echo(describe_failure(result))
    click.echo(summary_line(results))
    sys.exit(0 if all(r.ok for r in results) else 1)


if __name__ == "__main__":
    main()
