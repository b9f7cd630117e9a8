"""Hostile and broken input files (issue 14, reader side): each attack is reproduced and must
end in a located input problem with exit 2, within memory and time bounds, never a
traceback and never a silent skip.

Attacks that used to exhaust memory or recurse without end run in a subprocess with an
address-space limit (RLIMIT_AS) and a timeout as a hang guard; no test measures time."""
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from checker.records.compose import ALIAS_BUDGET, MAX_DEPTH
from checker.records.located import load_json_document, load_yaml_documents
from checker.records.reader import read_records
from cli import main

ROOT = Path(__file__).resolve().parents[1]
MEMORY_LIMIT = 2 * 1024 ** 3        # the whole CLI fits well within; the bomb needed more than 14 GB
HANG_GUARD = 300                    # seconds: fails a run that never ends, measures nothing

CLIENT = [{"type": "client", "id": "c1", "name": "Clean Co"}]
GAP = [
    {"type": "client", "id": "c2", "name": "Gap Co"},
    {"type": "audit", "id": "b2", "client": "c2", "audit_type": "stage2", "start_date": "2024-02-10",
     "end_date": "2024-02-12"},
]
# Nine levels of nine aliases: 387 million values once expanded, 330-odd bytes written.
BOMB = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))


def _limits():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def cbcheck(*args, preexec=_limits):
    """The CLI in a child process with bounded memory: (exit code, stdout bytes, stderr text)."""
    proc = subprocess.run([sys.executable, "-c", "from cli import main; main()", *map(str, args)],
                          cwd=ROOT, capture_output=True, timeout=HANG_GUARD, preexec_fn=preexec,
                          env={**os.environ, "LC_ALL": "C.UTF-8", "PYTHONPATH": str(ROOT)})
    return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "backslashreplace")


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


def folder(tmp_path: Path, files: dict) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text if isinstance(text, str) else yaml.safe_dump(text, sort_keys=False), encoding="utf-8")
    return tmp_path


def assert_located(code, out, where, what):
    assert code == 2, out
    assert "Traceback" not in out
    assert any(where in line and what in line for line in out.splitlines()), (where, what, out)


# --- 1. YAML alias bomb -----------------------------------------------------------------------

def test_alias_bomb_is_refused_by_every_command_that_reads_yaml(tmp_path):
    records = folder(tmp_path / "in", {"r.yaml": CLIENT, "bomb.yaml": BOMB})
    bomb = folder(tmp_path, {"bomb.yaml": BOMB}) / "bomb.yaml"
    where, what = "bomb.yaml:5 at /a4/0", f"aliases expand to more than {ALIAS_BUDGET} values"
    code, _, err = cbcheck("validate", records)
    assert_located(code, err, where, what)
    code, out, err = cbcheck("check", records, "--format", "json", "--as-of", "2025-06-30")
    assert code == 2 and "Traceback" not in err
    errors = json.loads(out)["errors"]
    assert [(e["file"], e["line"], e["pointer"]) for e in errors] == [("bomb.yaml", 5, "/a4/0")]
    code, out, err = cbcheck("prescreen", records, "--as-of", "2025-06-30", "--format", "json")
    assert code == 2 and "Traceback" not in err
    assert any(e["file"] == "bomb.yaml" and e["line"] == 5 for e in json.loads(out)["report"]["errors"])
    clean = folder(tmp_path / "clean", {"r.yaml": CLIENT})
    for option in ("--params", "--waivers"):
        code, _, err = cbcheck("check", clean, option, bomb, "--as-of", "2025-06-30")
        assert_located(code, err, "bomb.yaml:5", what)


def test_line_map_walks_each_aliased_value_once():
    # 1,000 values aliased nine times: within the budget, read as written, and the line map
    # holds the values of the text (and one entry per alias), not the 10,000 of the expansion.
    text = "base: &b [" + ", ".join(map(str, range(1000))) + "]\n" + "".join(f"k{i}: *b\n" for i in range(9))
    (doc,), problems = load_yaml_documents(text, "f.yaml")
    assert problems == [] and doc.data["k8"] == list(range(1000))
    assert len(doc.lines) == 1 + 1 + 1000 + 9
    assert doc.line_of("/k3/999") == 5                   # an aliased value is located at its alias


def test_recursive_alias_is_refused():
    _, (problem,) = load_yaml_documents("a: 1\nb: &x [1, *x]\n", "f.yaml")
    assert (problem.line, problem.pointer) == (2, "/b/1") and "inside the value it names" in problem.message


# --- 2. unreadable folders and files ----------------------------------------------------------

def _without_read_override():
    """preexec_fn: the child keeps uid 0 but loses the capabilities that let root read any
    file (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, dropped from the bounding set so the exec
    does not regain them), so file permissions apply to it as to any user."""
    import ctypes
    _limits()
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):                       # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:    # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) refused")


@pytest.fixture
def unprivileged(tmp_path):
    """How to run the CLI so that chmod 000 means unreadable, or a skip saying why not."""
    if os.geteuid() != 0:
        return _limits
    probe = tmp_path / "probe"
    probe.write_text("x")
    probe.chmod(0)
    try:
        result = subprocess.run([sys.executable, "-c", "import sys; open(sys.argv[1])", str(probe)],
                                capture_output=True, preexec_fn=_without_read_override, timeout=HANG_GUARD)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"running as root and cannot drop the capability to read any file ({exc})")
    if result.returncode == 0:
        pytest.skip("running as root and a child still reads a file with mode 000: permissions cannot be tested")
    return _without_read_override


def test_unreadable_folder_and_file_are_input_problems(tmp_path, unprivileged):
    root = folder(tmp_path / "in", {"clients/a/r.yaml": CLIENT, "clients/b/r.yaml": GAP, "clients/c.yaml": CLIENT})
    os.chmod(root / "clients/b", 0)
    os.chmod(root / "clients/c.yaml", 0)
    try:
        # The demo's shape: one folder per client; one unreadable client used to vanish, exit 0.
        code, _, err = cbcheck("validate", root, preexec=unprivileged)
        assert_located(code, err, "clients/b: cannot read this folder", "Permission denied")
        assert "clients/c.yaml: cannot read: Permission denied" in err
        code, out, err = cbcheck("check", root, "--as-of", "2025-06-30", "--format", "json", preexec=unprivileged)
        assert code == 2 and {e["file"] for e in json.loads(out)["errors"]} == {"clients/b", "clients/c.yaml"}
        os.chmod(root, 0)
        code, _, err = cbcheck("check", root, preexec=unprivileged)
        assert code == 2 and "Traceback" not in err and f"{root}' is not readable" in err
    finally:
        for path in (root, root / "clients/b", root / "clients/c.yaml"):
            os.chmod(path, 0o755)


# --- 3. reader-side tracebacks ----------------------------------------------------------------

def test_integer_longer_than_python_reads_is_located(tmp_path):
    digits = "7" * 5000
    root = folder(tmp_path, {"a.yaml": f"- type: client\n  id: c1\n  x-n: {digits}\n",
                             "b.json": '{"type": "client",\n "id": "c2",\n "x-n": ' + digits + "}",
                             "c.jsonl": '{"type": "client", "id": "c3"}\n{"type": "client", "x-n": ' + digits + "}\n"})
    code, out = run("validate", root)
    assert_located(code, out, "a.yaml:3 at /0/x-n", "an integer of 5000 digits")
    assert_located(code, out, "b.json:3 at /x-n", "an integer of 5000 digits")
    assert_located(code, out, "c.jsonl:2", "an integer of 5000 digits")


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 950, 200_000])
def test_deep_nesting_is_refused_at_read_time(tmp_path, depth):
    # 950 levels in an x- field used to pass validate and crash a worker; 200,000 `[` crashed
    # libyaml's composer outright (a C stack overflow, no traceback at all).
    nested = '{"x":' * depth + "1" + "}" * depth
    root = folder(tmp_path, {"a.yaml": f"type: client\nid: c1\nx-deep: {nested}\n",
                             "b.json": '{"type": "client", "id": "c2",\n "x-deep": ' + nested + "}",
                             "c.jsonl": '{"type": "client", "id": "c3", "x-deep": ' + nested + "}\n"})
    for command in (["validate", root], ["check", root, "--jobs", "2", "--as-of", "2025-06-30"]):
        code, _, err = cbcheck(*command)
        assert code == 2 and "Traceback" not in err
        if command[0] == "validate":
            assert "a.yaml:3" in err and "b.json" in err and "c.jsonl:1" in err
            assert err.count("nested deeper than") + err.count("exceeded maximum nesting depth") == 3, err


def test_depth_within_the_limit_is_read(tmp_path):
    nested = '{"x":' * (MAX_DEPTH - 1) + "1" + "}" * (MAX_DEPTH - 1)
    root = folder(tmp_path, {"a.json": '{"type": "client", "id": "c1", "x-deep": ' + nested + "}"})
    assert run("validate", root)[0] == 0


def test_symlink_loop_and_dangling_link_are_named(tmp_path):
    root = folder(tmp_path / "in", {"r.yaml": CLIENT})
    os.symlink("b.yaml", root / "a.yaml")
    os.symlink("a.yaml", root / "b.yaml")
    os.symlink("gone.yaml", root / "d.yaml")
    code, out = run("validate", root)
    assert_located(code, out, "a.yaml:", "symbolic link loop")
    assert_located(code, out, "b.yaml:", "symbolic link loop")
    assert_located(code, out, "d.yaml:", "dangling link: it points at gone.yaml, which does not exist")
    code, out = run("validate", root / "a.yaml")
    assert_located(code, out, "a.yaml", "symbolic link loop")


# --- 5. file names that are not UTF-8 -----------------------------------------------------------

def test_non_utf8_file_names_are_escaped_in_every_output(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    name = os.fsdecode(b"gap-\xff.yaml")
    (root / name).write_text(yaml.safe_dump(GAP), encoding="utf-8")
    (root / os.fsdecode(b"notes-\xfe.txt")).write_text("n", encoding="utf-8")
    outputs = {fmt: tmp_path / f"report.{fmt}" for fmt in ("json", "markdown", "sarif", "oscal", "html", "junit")}
    also = [arg for fmt, path in outputs.items() if fmt != "json" for arg in ("--also", f"{fmt}={path}")]
    code, _, err = cbcheck("check", root, "--as-of", "2025-06-30", "--rule", "CYC001", "--format", "json",
                           "-o", outputs["json"], *also)
    assert code == 1 and "Traceback" not in err
    for fmt, path in outputs.items():
        text = path.read_bytes().decode("utf-8")           # strict: any stray byte fails here
        # as is (HTML, JUnit), with the backslash escaped once more (JSON strings, Markdown) or
        # percent-encoded in a URI (SARIF)
        assert any(form in text for form in ("gap-\\xff.yaml", "gap-\\\\xff.yaml", "gap-%5Cxff.yaml")), fmt
    report = json.loads(outputs["json"].read_text(encoding="utf-8"))
    assert report["findings"][0]["file"] == "gap-\\xff.yaml"
    assert report["input"]["files_ignored"] == ["notes-\\xfe.txt"]
    code, out, err = cbcheck("check", root, "--as-of", "2025-06-30", "--rule", "CYC001", "--format", "json")
    assert code == 1 and json.loads(out.decode("utf-8"))["findings"][0]["file"] == "gap-\\xff.yaml"


def test_non_utf8_names_in_problems_are_escaped(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    (root / os.fsdecode(b"bad-\xff.yaml")).write_text("a: [\n", encoding="utf-8")
    (root / os.fsdecode(b"evil\nname.yaml")).write_text("", encoding="utf-8")
    code, out, err = cbcheck("check", root, "--as-of", "2025-06-30", "--format", "json")
    assert code == 2
    files = sorted(e["file"] for e in json.loads(out.decode("utf-8"))["errors"])
    assert files == ["bad-\\xff.yaml", "evil\\nname.yaml"]


# --- 7. empty record files --------------------------------------------------------------------

@pytest.mark.parametrize("name,text", [("a.yaml", ""), ("b.yml", "---\n"), ("c.yaml", "# only a comment\n"),
                                       ("d.jsonl", ""), ("e.jsonl", "\n\n"), ("f.json", ""), ("g.json", "[]"),
                                       ("h.json", "null"), ("i.yaml", "---\n---\n")])
def test_empty_record_files_are_input_problems(tmp_path, name, text):
    root = folder(tmp_path, {"r.yaml": CLIENT, name: text})
    code, out = run("validate", root)
    assert_located(code, out, f"{name}:", "empty file: it holds no records (a truncated export?)")
    assert "export the file again, or delete it" in out


# --- 10. smaller reader defects ---------------------------------------------------------------

def test_json_duplicate_keys_carry_their_line():
    _, problems = load_json_document('{\n  "type": "client",\n  "id": "c1",\n  "id": "c2"\n}\n', "a.json")
    assert [p.render() for p in problems] == [
        "a.json:4 at /: duplicate key 'id' (first at line 3) (expected: each key once per mapping)"]


def test_unknown_fields_are_capped_per_record(tmp_path):
    record = {"type": "client", "id": "c1", **{f"col{i:05d}": i for i in range(10_000)}}
    code, out = run("validate", folder(tmp_path, {"a.json": json.dumps(record)}))
    assert code == 2
    assert out.count("unknown field 'col") == 20
    assert "9980 more unknown fields, not listed one by one (the first 20 are)" in out
    assert "21 problem(s)" in out


def test_byte_order_mark_is_accepted_in_every_format(tmp_path):
    bom = "\ufeff"
    root = folder(tmp_path, {"a.json": bom + '{"type": "client", "id": "c1"}',
                             "b.jsonl": bom + '{"type": "client", "id": "c2"}\n',
                             "c.yaml": bom + "type: client\nid: c3\n"})
    result = read_records(root)
    assert result.problems == [] and sorted(r.id for r in result.records) == ["c1", "c2", "c3"]


def test_yaml_data_json_cannot_hold_is_refused_not_a_crash(tmp_path):
    root = folder(tmp_path, {"a.yaml": "- {type: client, id: c1, 2.5: x}\n- {type: client, id: c2, x-b: !!binary aGk=}\n"
                                       "- {type: client, id: c3}\n"})
    code, out = run("validate", root)
    assert_located(code, out, "a.yaml:1 at /0", "the key '2.5' is read as float, not text")
    assert_located(code, out, "a.yaml:2 at /1/x-b", "a value of YAML type binary")


# --- follow-up: values no report can hold, the size of a record file ---------------------------

SURROGATE_TEXT = "text that is not valid Unicode (a lone surrogate \\udcff"
NOT_FINITE = "a number that is not finite"
BEYOND_64 = "beyond the 64 bits a check can compare"


@pytest.mark.parametrize("name,text,where,what", [
    ("r.json", '{"type": "client", "id": "c1",\n "name": "X\\udcff"}', "r.json:2 at /name", SURROGATE_TEXT),
    ("r.jsonl", '{"type": "client", "id": "c0"}\n{"type": "client", "id": "c\\udcff"}\n', "r.jsonl:2 at /id",
     SURROGATE_TEXT),
    ("r.jsonl", '{"type": "client", "id": "c1", "x-\\udcff": 1}\n', "r.jsonl:1 at /:",
     "a field name that is not valid Unicode (a lone surrogate \\udcff"),
    ("r.json", '[{"type": "client", "id": "c1"},\n {"type": "client", "id": "c2", "x-a": [1,\n NaN]}]',
     "r.json:3 at /1/x-a/1", f"{NOT_FINITE} (nan)"),
    ("r.json", '{"type": "client", "id": "c1", "x-a": Infinity}', "r.json:1 at /x-a", f"{NOT_FINITE} (inf)"),
    ("r.jsonl", '{"type": "client", "id": "c1", "x-a": -1.5e999}\n', "r.jsonl:1 at /x-a", f"{NOT_FINITE} (-inf)"),
    ("r.yaml", "type: client\nid: c1\nx-a: .nan\n", "r.yaml:3 at /x-a", f"{NOT_FINITE} (nan)"),
    ("r.yaml", "- {type: client, id: c1}\n- {type: client, id: c2, x-a: -.inf}\n", "r.yaml:2 at /1/x-a",
     f"{NOT_FINITE} (-inf)"),
    ("r.yaml", "type: client\nid: c1\nx-a: 1.0e+999\n", "r.yaml:3 at /x-a", f"{NOT_FINITE} (inf)"),
    # Beyond 64 bits: the engine core cannot hold it (values.INT64).
    ("r.json", '{"type": "client", "id": "c1",\n "x-a": [1, 9223372036854775808]}', "r.json:2 at /x-a/1", BEYOND_64),
    ("r.jsonl", '{"type": "client", "id": "c1", "x-a": -9223372036854775809}\n', "r.jsonl:1 at /x-a", BEYOND_64),
    ("r.yaml", "type: client\nid: c1\nx-a: 123456789012345678901234\n", "r.yaml:3 at /x-a", BEYOND_64),
    ("r.yaml", "type: client\nid: c1\nx-a: 0x1ffffffffffffffff\n", "r.yaml:3 at /x-a", BEYOND_64),
])
def test_values_no_report_can_hold_are_refused_at_their_field(tmp_path, name, text, where, what):
    code, out = run("validate", folder(tmp_path, {"ok.yaml": CLIENT, name: text}))
    assert_located(code, out, where, what)
    assert "does not match" not in out      # the record never reached the schemas


@pytest.mark.parametrize("text", ["x-a: 9223372036854775807", "x-a: -9223372036854775808", "x-a: 0x7fffffffffffffff",
                                  "x-a: '123456789012345678901234'"])
def test_integers_within_64_bits_and_long_digits_in_quotes_are_read(tmp_path, text):
    code, out = run("validate", folder(tmp_path, {"r.yaml": f"type: client\nid: c1\n{text}\n"}))
    assert code == 0 and BEYOND_64 not in out, out


def test_pure_python_yaml_surrogate_escape_is_refused(monkeypatch):
    # libyaml refuses "\uDCFF" itself; PyYAML without libyaml reads it as a lone surrogate.
    from checker.records import located

    class PureLoader(yaml.SafeLoader):
        yaml_implicit_resolvers = located._Loader.yaml_implicit_resolvers

    monkeypatch.setattr(located, "_Loader", PureLoader)
    docs, problems = located.load_yaml_documents('type: client\nid: c1\nname: "X\\uDCFF"\n"\\udcff": 1\n', "r.yaml")
    assert [p.render().split(" (expected")[0] for p in problems] == [
        "r.yaml:3 at /name: text that is not valid Unicode (a lone surrogate \\udcff, half of a character)",
        "r.yaml:4 at /: a field name that is not valid Unicode (a lone surrogate \\udcff, half of a character)"]
    assert docs[0].unsound == problems


@pytest.mark.parametrize("value", ["0x_", "!!float abc", "!!bool maybe", "!!int 12a", "!!timestamp soon"])
def test_yaml_value_its_tag_cannot_read_is_located_not_a_crash(tmp_path, value):
    code, out = run("validate", folder(tmp_path, {"r.yaml": f"type: client\nid: c1\nx-a: {value}\n"}))
    assert_located(code, out, "r.yaml:3 at /x-a", "is not a valid")


def test_a_refused_value_leaves_every_output_valid(tmp_path):
    root = folder(tmp_path / "in", {"gap.yaml": GAP, "bad.jsonl": '{"type": "client", "id": "c\\udcff"}\n'
                                                                  '{"type": "client", "id": "c9", "x-a": NaN}\n'})
    outputs = {fmt: tmp_path / f"report.{fmt}" for fmt in ("json", "markdown", "sarif", "oscal", "html", "junit")}
    also = [arg for fmt, path in outputs.items() if fmt != "json" for arg in ("--also", f"{fmt}={path}")]
    code, out, err = cbcheck("check", root, "--as-of", "2025-06-30", "--format", "json", "-o", outputs["json"], *also)
    assert code == 2 and "Traceback" not in err
    for fmt, path in outputs.items():       # a run with input problems still writes its report
        text = path.read_bytes().decode("utf-8")            # strict: a surrogate cannot be written
        assert "udcff" in text and "bad.jsonl" in text, fmt
    report = json.loads(outputs["json"].read_text(encoding="utf-8"))
    assert {(e["file"], e["line"], e["pointer"]) for e in report["errors"]} == {("bad.jsonl", 1, "/id"),
                                                                               ("bad.jsonl", 2, "/x-a")}
    # c9 is read and indexed by its id, type and owner, and withheld for its refused value;
    # the record whose id is refused is tied to nothing, so the input as a whole is not judged.
    assert report["input"]["records"] == 3 and all(f["file"] != "bad.jsonl" for f in report["findings"])


@pytest.mark.parametrize("value", ["NaN", "1e400", "123456789012345678901234"])
def test_a_refused_value_withholds_only_its_client(tmp_path, value):
    """One refused value in a client's record used to leave every client unjudged, with a
    dangling-reference error for each record naming it; now its client alone is withheld."""
    audit = ('{"type": "audit", "id": "%s-a", "client": "%s", "audit_type": "stage2", "start_date": "2024-02-10", '
             '"end_date": "2024-02-12"}')
    lines = ['{"type": "client", "id": "k1", "name": "One"}', audit % ("k1", "k1"),
             '{"type": "client", "id": "k2", "name": "Two", "x-a": %s}' % value, audit % ("k2", "k2")]
    root = folder(tmp_path, {"gap.yaml": GAP, "r.jsonl": "\n".join(lines) + "\n"})
    code, out, err = cbcheck("check", root, "--as-of", "2025-06-30", "--format", "json", "-o", tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert code == 2 and "Traceback" not in err
    assert [(e["file"], e["line"], e["pointer"]) for e in report["errors"]] == [("r.jsonl", 3, "/x-a")]
    assert report["summary"]["not_evaluated"]["input_errors"] == ["k2"]
    judged = {f["client"] for f in report["findings"]}
    assert {"c2", "k1"} <= judged and "k2" not in judged, judged


def test_not_finite_numbers_in_params_waivers_mappings_and_baselines_are_located(tmp_path):
    records = folder(tmp_path / "in", {"r.yaml": GAP})
    files = folder(tmp_path, {"params.yaml": "parameters:\n  cycle_years: .nan\n",
                              "waivers.yaml": "- {rule: CYC001, client: c2, justification: j, approver: a,\n"
                                              "   expires: 2026-03-31, x: .inf}\n",
                              "base.json": '{"report_format": "cbcheck-report/1",\n "x": NaN}\n'})
    code, out = run("check", records, "--as-of", "2025-06-30", "--params", files / "params.yaml")
    assert_located(code, out, "params.yaml:2 at /parameters/cycle_years", f"{NOT_FINITE} (nan)")
    code, out = run("check", records, "--as-of", "2025-06-30", "--waivers", files / "waivers.yaml")
    assert_located(code, out, "waivers.yaml:2 at /0/x", f"{NOT_FINITE} (inf)")
    code, out = run("check", records, "--as-of", "2025-06-30", "--baseline", files / "base.json")
    assert_located(code, out, "base.json:2 at /x", f"{NOT_FINITE} (nan)")
    from checker.importers.mapping import read_mapping_document
    (tmp_path / "mapping.yaml").write_text("version: 1\nsheets:\n  clients: {x: -.inf}\n", encoding="utf-8")
    _, problems = read_mapping_document(tmp_path / "mapping.yaml")
    assert [p.render().split(" (expected")[0] for p in problems] == [
        f"mapping.yaml:3 at /sheets/clients/x: {NOT_FINITE} (-inf), which no check can compare"]


def test_json_report_never_holds_nan():
    from checker.report.json_out import render
    with pytest.raises(ValueError):
        render({"x": float("nan")})


def test_validate_shows_the_path_argument_escaped(tmp_path):
    root = folder(tmp_path / "in\nforged: 99 record(s) are valid\x1b[2J", {"r.yaml": CLIENT})
    code, out = run("validate", root)
    assert code == 0
    assert out.count("\n") == 1 and "\x1b" not in out
    assert "in\\nforged: 99 record(s) are valid\\x1b[2J: 1 record(s) in 1 file(s) are valid" in out


def test_record_file_larger_than_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    root = folder(tmp_path, {"r.yaml": CLIENT})
    with open(root / "huge.json", "wb") as handle:      # sparse: no disk, no memory
        os.truncate(handle.fileno(), 300 * 1024 ** 2)
    code, out, err = cbcheck("validate", root)              # within the test's 2 GiB address space
    assert code == 2 and "Traceback" not in err
    assert "huge.json: 314,572,800 bytes, more than the 256 MiB a record file may hold; not read" in err
    assert "CBCHECK_MAX_FILE_MIB=<MiB>" in err
    monkeypatch.setenv("CBCHECK_MAX_FILE_MIB", "1")
    os.truncate(root / "huge.json", 1024 ** 2 + 1)
    code, out = run("validate", root)
    assert_located(code, out, "huge.json:", "1,048,577 bytes, more than the 1 MiB")
    os.truncate(root / "huge.json", 1024 ** 2)        # at the limit: read (and refused as JSON)
    code, out = run("validate", root)
    assert_located(code, out, "huge.json:1", "not valid JSON")
    monkeypatch.setenv("CBCHECK_MAX_FILE_MIB", "lots")
    code, out = run("validate", root)
    assert_located(code, out, "CBCHECK_MAX_FILE_MIB", "'lots' is not a size in MiB")


def test_csv_sheet_larger_than_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    # A CSV export is held in memory whole like a record file: the same limit, the same message.
    export = tmp_path / "export"
    export.mkdir()
    (export / "clients.csv").write_text("id,name\nC1,Acme\n", encoding="utf-8")
    with open(export / "audits.csv", "wb") as handle:    # sparse: no disk, no memory
        os.truncate(handle.fileno(), 300 * 1024 ** 2)
    code, out, err = cbcheck("validate", export)
    assert code == 2 and "Traceback" not in err
    assert "audits.csv: 314,572,800 bytes, more than the 256 MiB a CSV file may hold; not read" in err
    monkeypatch.setenv("CBCHECK_MAX_FILE_MIB", "lots")
    code, out, err = cbcheck("validate", export)
    assert code == 2 and err.count("'lots' is not a size in MiB") == 1


def test_a_record_type_that_is_a_list_is_located_not_a_crash(tmp_path):
    # The index looked the type up in a dict of types: a list, unhashable, raised TypeError.
    code, out = run("check", folder(tmp_path, {"ok.yaml": CLIENT, "r.yaml": "type: [a]\nid: x1\n"}), "--as-of", "2025-11-01")
    assert_located(code, out, "r.yaml:1 at /type", "unknown record type ['a']")
