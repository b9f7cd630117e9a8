"""`cbcheck prescreen` as an accreditation body meets it: an untrusted zip or folder is opened
without writing anywhere but a private temporary folder, every refused member is named with
the reason, the completeness view finds the records a submission should hold but does not,
and the temporary copy is always removed."""
import datetime as dt
import json
import os
import socket
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

import checker.prescreen as prescreen_module
from benchmarks.generate_cb import generate
from checker.catalog.parameters import Parameters
from checker.pipeline import load_input, run_check
from checker.prescreen import Limits, open_submission, prescreen, prescreen_exit_code
from checker.prescreen.completeness import completeness
from checker.prescreen.render import render
from tests.helpers import shipped_rules

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = {name: json.loads((ROOT / path).read_text()) for name, path in {
    "report": "checker/report/report.schema.json",
    "completeness": "checker/prescreen/completeness.schema.json",
    "prescreen": "checker/prescreen/prescreen.schema.json"}.items()}
REGISTRY = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in SCHEMAS.values())
PRESCREEN_SCHEMA = Draft202012Validator(SCHEMAS["prescreen"], registry=REGISTRY)
COMPLETENESS_SCHEMA = Draft202012Validator(SCHEMAS["completeness"], registry=REGISTRY)
MIB = 1024 * 1024
AS_OF = dt.date(2025, 11, 1)
CB = b"- {type: cb, id: cb-x, name: X Certification}\n"


# ---------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def catalog():
    return shipped_rules()


@pytest.fixture(scope="module")
def clean_cb(tmp_path_factory):
    """Two generated clients that, as of AS_OF, miss nothing and have no finding."""
    folder = tmp_path_factory.mktemp("clean") / "cb"
    generate(folder, 2, layout="folders")
    return folder


def zip_folder(folder: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(folder).as_posix())
    return dest


def make_zip(dest: Path, members) -> Path:
    """members: (name or ZipInfo, bytes) pairs, written as given (duplicates included)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # zipfile warns about the duplicates we plant
        with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in members:
                z.writestr(name, data)
    return dest


def with_mode(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3                       # Unix: the high 16 bits are st_mode
    info.external_attr = mode << 16
    return info


def patch_central(path: Path, member: str, offset: int, fmt: str, value: int) -> None:
    """Overwrite a field of `member`'s central directory entry: what zipfile trusts."""
    data = bytearray(path.read_bytes())
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46:pos + 46 + name_len]).decode() == member:
            struct.pack_into(fmt, data, pos + offset, value)
            path.write_bytes(bytes(data))
            return
        pos = data.find(b"PK\x01\x02", pos + 4)
    raise AssertionError(f"no member {member}")


def tree(folder: Path, skip: Path | None = None) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if skip is None or not p.is_relative_to(skip)}


@pytest.fixture
def sandbox(tmp_path):
    """The input lives in tmp_path/in, temporary folders go to tmp_path/work; `check()`
    asserts that opening wrote nothing anywhere else under tmp_path."""
    (tmp_path / "in").mkdir()
    (tmp_path / "work").mkdir()

    class Sandbox:
        root = tmp_path
        inp = tmp_path / "in"
        work = tmp_path / "work"

        def open(self, path, limits=None):
            before = tree(tmp_path, skip=self.work)
            opened = open_submission(path, limits, tmp_root=self.work)
            assert tree(tmp_path, skip=self.work) == before, "something was written outside the temporary folder"
            made = list(self.work.iterdir())
            assert len(made) <= 1
            if opened.folder is not None:
                assert made == [opened.folder]
                assert stat.S_IMODE(os.stat(opened.folder).st_mode) == 0o700
                for f in opened.folder.rglob("*"):
                    assert not f.is_symlink()
                    assert stat.S_IMODE(f.stat().st_mode) == (0o700 if f.is_dir() else 0o600)
            return opened

    return Sandbox()


def refused(opened) -> dict[str, str]:
    return {p.file: p.message for p in opened.problems}


# ---------------------------------------------------------------- zip: members refused one by one

def test_traversal_and_absolute_members_are_refused_and_nothing_escapes(sandbox):
    target = sandbox.root / "abs.yaml"
    z = make_zip(sandbox.inp / "sub.zip", [
        ("cb.yaml", CB),
        ("../../escaped.yaml", CB), ("clients/../../../escaped2.yaml", CB), ("..\\..\\escaped3.yaml", CB),
        (str(target), CB), ("C:/evil.yaml", CB), ("\\rooted.yaml", CB), ("\\\\server\\share\\e.yaml", CB),
    ])
    opened = sandbox.open(z)
    try:
        got = refused(opened)
        for name in ("../../escaped.yaml", "clients/../../../escaped2.yaml", "..\\..\\escaped3.yaml"):
            assert "path traversal" in got[name], got
        for name in (str(target), "C:/evil.yaml", "\\rooted.yaml", "\\\\server\\share\\e.yaml"):
            assert "absolute path" in got[name], got
        assert all(m.startswith("refused: ") for m in got.values())
        assert not target.exists()
        assert not any((sandbox.root / n).exists() for n in ("escaped.yaml", "escaped2.yaml", "escaped3.yaml"))
        assert tree(opened.folder) == {"cb.yaml"}          # the safe member is still extracted
        assert opened.info.files == 1 and opened.info.bytes == len(CB)
    finally:
        opened.cleanup()
    assert list(sandbox.work.iterdir()) == []


def test_symlink_device_and_encrypted_members_are_refused(sandbox):
    z = make_zip(sandbox.inp / "sub.zip", [
        ("cb.yaml", CB),
        (with_mode("link.yaml", stat.S_IFLNK | 0o777), b"/etc/passwd"),
        (with_mode("dev.yaml", stat.S_IFCHR | 0o666), b""),
        (with_mode("fifo.yaml", stat.S_IFIFO | 0o644), b""),
        ("secret.yaml", CB),
    ])
    patch_central(z, "secret.yaml", 8, "<H", 0x1)          # general purpose flag: encrypted
    opened = sandbox.open(z)
    try:
        got = refused(opened)
        assert "symbolic link" in got["link.yaml"] and "outside" in got["link.yaml"]
        assert "device or special file" in got["dev.yaml"]
        assert "device or special file" in got["fifo.yaml"]
        assert "encrypted" in got["secret.yaml"]
        assert tree(opened.folder) == {"cb.yaml"}
    finally:
        opened.cleanup()


def test_duplicate_names_are_all_refused_including_case_and_unicode_collisions(sandbox):
    z = make_zip(sandbox.inp / "sub.zip", [
        ("records/a.yaml", CB), ("records/a.yaml", CB),
        ("Clients/B.yaml", CB), ("clients/b.yaml", CB),
        ("caf\u00e9.yaml", CB), ("cafe\u0301.yaml", CB),
        ("x", b"plain"), ("x/y.yaml", CB),
        ("ok.yaml", CB),
    ])
    opened = sandbox.open(z)
    try:
        problems = opened.problems
        dup = [p for p in problems if "duplicate member" in p.message]
        assert sorted(p.file for p in dup) == sorted(["records/a.yaml", "records/a.yaml", "Clients/B.yaml",
                                                      "clients/b.yaml", "caf\u00e9.yaml", "cafe\u0301.yaml"])
        assert all("cannot be told" in p.message for p in dup)
        assert "clients/b.yaml" in next(p.message for p in dup if p.file == "Clients/B.yaml")
        assert "both a file and a folder" in refused(opened)["x"]
        assert tree(opened.folder) == {"ok.yaml", "x", "x/y.yaml"}
    finally:
        opened.cleanup()


def test_zip_bomb_member_is_refused_by_its_compression_ratio(sandbox):
    bomb = b"\0" * (20 * MIB)                               # deflates about 1000:1
    z = make_zip(sandbox.inp / "bomb.zip", [("cb.yaml", CB), ("clients/huge.yaml", bomb)])
    assert z.stat().st_size < MIB
    opened = sandbox.open(z)
    try:
        msg = refused(opened)["clients/huge.yaml"]
        assert "compression ratio" in msg and "200:1" in msg and "zip bomb" in msg
        assert tree(opened.folder) == {"cb.yaml"}
        assert opened.info.bytes == len(CB)
    finally:
        opened.cleanup()


def test_huge_declared_size_is_refused_whether_by_ratio_or_by_the_total_cap(sandbox):
    z = make_zip(sandbox.inp / "liar.zip", [("cb.yaml", CB), ("big.yaml", CB)])
    patch_central(z, "big.yaml", 24, "<I", 0x7FFF0000)      # uncompressed size: about 2 GiB
    opened = sandbox.open(z)
    try:
        assert "compression ratio" in refused(opened)["big.yaml"]
        assert tree(opened.folder) == {"cb.yaml"}
    finally:
        opened.cleanup()
    # With the ratio guard out of the way, the declared total still stops it, before any write.
    opened = sandbox.open(z, Limits(max_ratio=10 ** 12))
    assert opened.folder is None and len(opened.problems) == 1
    (problem,) = opened.problems
    assert problem.file == str(z)
    assert "declares" in problem.message and "limit" in problem.message and "decompression bomb" in problem.message
    assert "--max-bytes" in problem.expected
    assert list(sandbox.work.iterdir()) == []               # refused as a whole: nothing kept


def test_total_size_and_file_count_caps_refuse_the_whole_submission(sandbox):
    z = make_zip(sandbox.inp / "sizes.zip", [(f"r{i}.yaml", b"#" * 600) for i in range(2)])
    opened = sandbox.open(z, Limits(max_bytes=1000))
    assert opened.folder is None and "1200 bytes" in opened.problems[0].message
    z = make_zip(sandbox.inp / "many.zip", [(f"r{i:02d}.yaml", CB) for i in range(11)])
    opened = sandbox.open(z, Limits(max_files=10))
    assert opened.folder is None
    assert "more than 10 files" in opened.problems[0].message and "--max-files" in opened.problems[0].expected
    opened = sandbox.open(z, Limits(max_files=11))
    try:
        assert opened.folder is not None and opened.info.files == 11 and not opened.problems
    finally:
        opened.cleanup()


def test_refusals_found_before_a_whole_submission_limit_are_still_listed(sandbox):
    z = make_zip(sandbox.inp / "many.zip", [("../up.yaml", CB)] + [(f"r{i}.yaml", CB) for i in range(3)])
    opened = sandbox.open(z, Limits(max_files=2))
    assert opened.folder is None
    assert [p.file for p in opened.problems] == ["../up.yaml", str(z)]
    assert opened.info.as_dict()["refused"] == [p.as_dict() for p in opened.problems]


def test_a_folder_entry_holding_data_is_refused(sandbox):
    z = make_zip(sandbox.inp / "sub.zip", [("cb.yaml", CB), (with_mode("hidden", stat.S_IFDIR | 0o755), CB)])
    opened = sandbox.open(z)
    try:
        assert "folder entry that holds data" in refused(opened)["hidden"]
        assert tree(opened.folder) == {"cb.yaml"}
    finally:
        opened.cleanup()


def test_a_member_longer_than_its_header_says_is_cut_at_the_declared_size(sandbox, monkeypatch):
    """zipfile itself stops at the declared size; the writer counts what it writes anyway,
    so a decompressor that returned more could not push past the header's size."""
    z = make_zip(sandbox.inp / "sub.zip", [("cb.yaml", CB), ("grows.yaml", CB)])
    real_open = zipfile.ZipFile.open

    class Endless:
        def __init__(self):
            self.calls = 0

        def read(self, n):
            self.calls += 1
            assert self.calls < 100, "the writer kept reading past the declared size"
            return b"#" * n

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_open(self, member, *args, **kwargs):
        name = member.filename if isinstance(member, zipfile.ZipInfo) else member
        return Endless() if name == "grows.yaml" else real_open(self, member, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", fake_open)
    opened = sandbox.open(z)
    try:
        assert "more data than its header declares" in refused(opened)["grows.yaml"]
        assert tree(opened.folder) == {"cb.yaml"}
    finally:
        opened.cleanup()


def test_corrupt_member_and_bad_crc_are_refused_members(sandbox):
    z = make_zip(sandbox.inp / "sub.zip", [("cb.yaml", CB), ("short.yaml", CB * 4)])
    patch_central(z, "short.yaml", 24, "<I", 10)             # declares less than it holds
    opened = sandbox.open(z)
    try:
        assert "cannot be extracted" in refused(opened)["short.yaml"]
        assert tree(opened.folder) == {"cb.yaml"}            # no partial file left behind
    finally:
        opened.cleanup()


def test_nested_archives_and_macos_metadata_are_listed_as_ignored_not_refused(sandbox):
    inner = make_zip(sandbox.root / "inner.zip", [("cb.yaml", CB)])
    z = make_zip(sandbox.inp / "sub.zip", [("cb.yaml", CB), ("more/inner.zip", inner.read_bytes()),
                                           ("__MACOSX/._cb.yaml", b"\0\5\26\7junk"), ("evidence.pdf", b"%PDF")])
    opened = sandbox.open(z)
    try:
        assert opened.problems == []
        reasons = {i["path"]: i["reason"] for i in opened.info.ignored}
        assert "nested archive" in reasons["more/inner.zip"] and "macOS" in reasons["__MACOSX/._cb.yaml"]
        assert tree(opened.folder) == {"cb.yaml", "evidence.pdf"}   # the pdf shows in the report as ignored
    finally:
        opened.cleanup()


def test_control_characters_in_names_are_refused_and_never_printed_raw(sandbox):
    z = make_zip(sandbox.inp / "sub.zip", [("cb.yaml", CB), ("evil\x1b[2J.yaml", CB)])
    opened = sandbox.open(z)
    try:
        (problem,) = opened.problems
        assert "\x1b" not in problem.file and problem.file == "evil\\x1b[2J.yaml"
        assert "control characters" in problem.message
    finally:
        opened.cleanup()


@pytest.mark.parametrize("content", [b"not a zip at all", b"PK\x03\x04 truncated"])
def test_a_file_that_is_not_a_readable_zip_is_refused_as_a_whole(sandbox, content):
    path = sandbox.inp / "sub.zip"
    path.write_bytes(content)
    opened = sandbox.open(path)
    assert opened.folder is None and opened.info.kind == "unknown"
    assert "neither a folder nor a zip" in opened.problems[0].message
    assert list(sandbox.work.iterdir()) == []


def test_a_zip_whose_central_directory_is_damaged_is_refused_as_a_whole(sandbox):
    z = make_zip(sandbox.inp / "sub.zip", [("cb.yaml", CB)])
    data = bytearray(z.read_bytes())
    cd = data.find(b"PK\x01\x02")
    data[cd:cd + 4] = b"XXXX"
    z.write_bytes(bytes(data))
    opened = sandbox.open(z)
    assert opened.folder is None
    assert "zip" in opened.problems[0].message
    assert list(sandbox.work.iterdir()) == []


# ---------------------------------------------------------------- folder submissions

def test_folder_links_fifos_and_sockets_are_refused_and_never_followed(sandbox, monkeypatch):
    outside = sandbox.root / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text("- {type: cb, id: secret-cb}\n")
    sub = sandbox.inp / "cb"
    sub.mkdir()
    (sub / "cb.yaml").write_bytes(CB)
    (sub / "link.yaml").symlink_to(outside / "secret.yaml")
    (sub / "linkdir").symlink_to(outside, target_is_directory=True)
    os.mkfifo(sub / "pipe.yaml")                            # read naively, this would hang the run
    monkeypatch.chdir(sub)                                  # short relative name: AF_UNIX paths are limited
    sock = socket.socket(socket.AF_UNIX)
    sock.bind("sock.yaml")
    try:
        opened = sandbox.open(sub)
        try:
            got = refused(opened)
            assert set(got) == {"link.yaml", "linkdir", "pipe.yaml", "sock.yaml"}
            assert "symbolic link" in got["link.yaml"] and "symbolic link to a folder" in got["linkdir"]
            assert "special file" in got["pipe.yaml"] and "special file" in got["sock.yaml"]
            assert tree(opened.folder) == {"cb.yaml"}
        finally:
            opened.cleanup()
    finally:
        sock.close()


def test_folder_caps_apply_to_declared_and_actual_sizes(sandbox, monkeypatch):
    sub = sandbox.inp / "cb"
    sub.mkdir()
    for i in range(3):
        (sub / f"r{i}.yaml").write_bytes(b"#" * 600)
    assert "more than 2 files" in sandbox.open(sub, Limits(max_files=2)).problems[0].message
    too_big = sandbox.open(sub, Limits(max_bytes=1000)).problems[0].message
    assert "holds more than" in too_big and "1200 bytes" in too_big and "filling the disk" in too_big
    # A file that grows after the walk (here: the walk is told every file is empty) is
    # stopped by the bytes actually copied.
    real_lstat = os.lstat

    def shrinking_lstat(path, *args, **kwargs):
        st = real_lstat(path, *args, **kwargs)
        if str(path).endswith(".yaml"):
            return os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid, 0,
                                   st.st_atime, st.st_mtime, st.st_ctime))
        return st

    monkeypatch.setattr(os, "lstat", shrinking_lstat)
    opened = sandbox.open(sub, Limits(max_bytes=1000))
    assert opened.folder is None and "expanded to more than" in opened.problems[0].message
    assert list(sandbox.work.iterdir()) == []


@pytest.mark.parametrize("bad", [dict(max_bytes=0), dict(max_files=-1), dict(max_ratio=1.5)])
def test_limits_must_be_positive_whole_numbers(bad):
    with pytest.raises(ValueError, match="at least 1"):
        Limits(**bad)


def test_a_missing_submission_is_refused_with_what_to_give(sandbox):
    opened = sandbox.open(sandbox.inp / "nope")
    assert opened.folder is None and "no such file or folder" in opened.problems[0].message
    assert opened.problems[0].expected == "the folder or the .zip the CB sent"


# ---------------------------------------------------------------- the whole prescreen

def test_good_zip_gives_completeness_and_report_and_cleans_up(sandbox, clean_cb, catalog):
    rules, params = catalog
    z = zip_folder(clean_cb, sandbox.inp / "cb.zip")
    result, code = prescreen(z, rules, params, AS_OF, tmp_root=sandbox.work)
    assert list(sandbox.work.iterdir()) == []
    PRESCREEN_SCHEMA.validate(result)
    assert code == 0
    sub, view, report = result["submission"], result["completeness"], result["report"]
    assert (sub["kind"], sub["refused"], sub["source"]) == ("zip", [], str(z))
    assert view["summary"]["clients"] == 2 and view["summary"]["cycles"] == 4 and view["summary"]["gaps"] == 0
    assert report["input"]["path"] == str(z) and report["summary"]["status"]["conforming"] > 0
    assert str(sandbox.work) not in json.dumps(result)        # no temporary path leaks into the result
    text = render(result, "text")
    assert text.index("Submission") < text.index("COMPLETENESS") < text.index("Requirements:")
    assert json.loads(render(result, "json")) == result


def test_zip_and_folder_give_the_same_views_and_runs_are_byte_identical(sandbox, clean_cb, catalog):
    rules, params = catalog
    z = zip_folder(clean_cb, sandbox.inp / "cb.zip")
    first, _ = prescreen(z, rules, params, AS_OF, tmp_root=sandbox.work)
    again, _ = prescreen(z, rules, params, AS_OF, tmp_root=sandbox.work)
    assert render(first, "json") == render(again, "json") and render(first) == render(again)
    folder, code = prescreen(clean_cb, rules, params, AS_OF, tmp_root=sandbox.work)
    assert code == 0 and folder["submission"]["kind"] == "folder"
    assert folder["completeness"] == first["completeness"]
    strip = lambda r: {**r, "input": {**r["input"], "path": None}}
    assert strip(folder["report"]) == strip(first["report"])
    # and the folder run equals `cbcheck check` on the folder itself
    direct = run_check(clean_cb, rules, params, AS_OF)
    assert strip(direct) == strip(folder["report"])


def test_refused_members_mean_exit_2_a_completeness_view_and_nothing_evaluated(sandbox, clean_cb, catalog):
    rules, params = catalog
    members = [(p.relative_to(clean_cb).as_posix(), p.read_bytes()) for p in sorted(clean_cb.rglob("*.yaml"))]
    z = make_zip(sandbox.inp / "cb.zip", members + [("../../x.yaml", CB), (with_mode("l.yaml", stat.S_IFLNK | 0o777), b"/")])
    result, code = prescreen(z, rules, params, AS_OF, tmp_root=sandbox.work)
    assert code == 2 and list(sandbox.work.iterdir()) == []
    PRESCREEN_SCHEMA.validate(result)
    assert sorted(p["file"] for p in result["submission"]["refused"]) == ["../../x.yaml", "l.yaml"]
    assert result["completeness"]["summary"]["clients"] == 2        # the AB still sees what it got
    report = result["report"]
    assert report["findings"] == [] and report["input"]["partitions"] == 0
    automated = [r for r in report["requirements"] if r["automation"] == "automated"]
    assert automated and all(r["status"] == "not_assessed" for r in automated)
    assert {e["file"] for e in report["errors"]} >= {"../../x.yaml", "l.yaml"}
    text = render(result)
    assert "REFUSED (2)" in text and "../../x.yaml" in text and "path traversal" in text


def test_refused_as_a_whole_gives_null_views_and_exit_2(sandbox, catalog):
    rules, params = catalog
    z = make_zip(sandbox.inp / "many.zip", [(f"r{i}.yaml", CB) for i in range(3)])
    result, code = prescreen(z, rules, params, AS_OF, Limits(max_files=2), tmp_root=sandbox.work)
    assert code == 2 and result["completeness"] is None and result["report"] is None
    PRESCREEN_SCHEMA.validate(result)
    assert "refused as a whole" in render(result) and "more than 2 files" in render(result)
    assert list(sandbox.work.iterdir()) == []


def test_cleanup_happens_when_a_later_stage_fails(sandbox, clean_cb, catalog, monkeypatch):
    rules, params = catalog

    def boom(*args, **kwargs):
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(prescreen_module, "run_check", boom)
    with pytest.raises(RuntimeError, match="engine exploded"):
        prescreen(clean_cb, rules, params, AS_OF, tmp_root=sandbox.work)
    assert list(sandbox.work.iterdir()) == []


def test_exit_codes(sandbox, clean_cb, catalog):
    rules, params = catalog
    later, code = prescreen(clean_cb, rules, params, dt.date(2027, 1, 15), tmp_root=sandbox.work)
    # 2026 passed with no surveillance of either client: the completeness view and CYC003 agree
    assert later["completeness"]["summary"]["gaps_by_code"] == {"surveillance_audit_missing": 2} and code == 1
    assert sorted(f["client"] for f in later["report"]["findings"] if f["rule_id"] == "CYC003") == \
        ["cl00000", "cl00001"]
    ok, _ = prescreen(clean_cb, rules, params, AS_OF, tmp_root=sandbox.work)
    assert prescreen_exit_code(ok) == 0
    summary = ok["completeness"]["summary"]
    incomplete = {**ok, "completeness": {**ok["completeness"], "summary": {**summary, "gaps": 1}}}
    assert prescreen_exit_code(incomplete, "none") == 1        # incomplete submission: exit 1 without findings
    with_finding = {**ok, "report": {**ok["report"], "findings": [{"severity": "major"}]}}
    assert prescreen_exit_code(with_finding) == 1 and prescreen_exit_code(with_finding, "none") == 0
    with_error = {**ok, "report": {**ok["report"], "errors": [{"kind": "engine"}]}}
    assert prescreen_exit_code(with_error) == 2


# ---------------------------------------------------------------- completeness view

def records_folder(tmp_path: Path, records: list[dict]) -> Path:
    folder = tmp_path / "records"
    folder.mkdir(exist_ok=True)
    (folder / "r.yaml").write_text(yaml.safe_dump(records, sort_keys=False), encoding="utf-8")
    return folder


def view_of(tmp_path, records, as_of, catalog=None):
    loaded = load_input(records_folder(tmp_path, records))
    rules, params = catalog or ([], None)
    view = completeness(loaded, rules, as_of, params=params)
    COMPLETENESS_SCHEMA.validate(view)
    return loaded, view


def codes(client_view) -> list[tuple[str, str]]:
    gaps = client_view["missing"] + [g for cy in client_view["cycles"] for g in cy["missing"]] \
        + [g for a in client_view["audits"] for g in a["missing"]]
    return sorted((g["code"], g["record"]) for g in gaps)


GRANTED = [
    {"type": "client", "id": "c1", "name": "Acme Hosting Ltd"},
    {"type": "decision", "id": "d-grant", "client": "c1", "decision_type": "grant", "date": "2021-03-10"},
    {"type": "certificate", "id": "cert-1", "client": "c1", "decision": "d-grant", "effective_date": "2021-03-10",
     "expiry_date": "2024-03-09"},
    {"type": "audit", "id": "sv1", "client": "c1", "audit_type": "surveillance", "start_date": "2022-02-14",
     "end_date": "2022-02-15", "status": "completed"},
]


def test_a_granted_client_with_missing_records_gets_each_named(tmp_path, catalog):
    loaded, view = view_of(tmp_path, GRANTED, dt.date(2023, 6, 30), catalog)
    assert loaded.problems == []
    (client,) = view["clients"]
    assert client["record_types"] == {"audit": 1, "certificate": 1, "client": 1, "decision": 1}
    (cycle,) = client["cycles"]
    assert (cycle["kind"], cycle["decision"], cycle["certificates"], cycle["start"], cycle["last_day"]) == \
           ("initial", "d-grant", ["cert-1"], "2021-03-10", "2024-03-09")
    # calendar year 2022 needs a surveillance audit and had one; 2023 has not ended
    assert cycle["audits"]["surveillance"] == ["sv1"] and cycle["surveillance_years_elapsed"] == 1
    assert codes(client) == sorted([
        ("application_missing", "c1"), ("certification_agreement_missing", "c1"), ("audit_programme_missing", "c1"),
        ("stage1_audit_missing", "d-grant"), ("stage2_audit_missing", "d-grant"),
        ("audit_plan_missing", "sv1"), ("team_missing", "sv1"), ("audit_report_missing", "sv1")])
    assert view["summary"]["gaps"] == 8 and view["summary"]["clients_with_gaps"] == 1
    # Once 2023 has ended, it lacks its audit (2024 is the recertification's year).
    _, later = view_of(tmp_path, GRANTED, dt.date(2025, 1, 15), catalog)
    (cycle,) = later["clients"][0]["cycles"]
    (year,) = [g for g in cycle["missing"] if g["code"] == "surveillance_audit_missing"]
    assert cycle["surveillance_years_elapsed"] == 2 and year["message"].startswith("calendar year 2023 ")
    lines = (tmp_path / "records" / "r.yaml").read_text().splitlines()
    assert (year["file"], year["line"]) == ("r.yaml", lines.index("- type: decision") + 1)


def test_not_assessed_requirements_match_the_gap_report(tmp_path, catalog):
    rules, params = catalog
    loaded, view = view_of(tmp_path, GRANTED, dt.date(2023, 6, 30), catalog)
    report = run_check(records_folder(tmp_path, GRANTED), rules, params, dt.date(2023, 6, 30))
    # A part of the requirement not assessed for want of a record type (another not assessed for
    # having nothing to apply to is the gap report's alone: it needs the evaluation).
    expected = sorted(r["id"] for r in report["requirements"] if r["based_on"] and any(
        not a["assessed"] and any(m.startswith("no records of type") for m in a["missing"])
        for a in r["based_on"]["alternatives"]))
    assert expected and sorted(r["id"] for r in view["not_assessed"]) == expected
    assert all(set(r["absent_types"]) <= set(view["missing_types"]) for r in view["not_assessed"])
    # a rule marked not applicable is not "not assessed"
    first = view["not_assessed"][0]["id"]
    marked = Parameters(items=params.items, not_applicable={first: "we never do this"})
    again = completeness(loaded, rules, dt.date(2023, 6, 30), params=marked)
    assert sorted(r["id"] for r in again["not_assessed"]) == [i for i in expected if i != first]


def test_certificates_decisions_revisions_renewals_and_withdrawals(tmp_path):
    records = GRANTED[:3] + [
        # a revision: replaces cert-1, keeps its expiry, no decision of its own -> same cycle
        {"type": "certificate", "id": "cert-1b", "client": "c1", "replaces": "cert-1", "effective_date": "2022-01-01",
         "expiry_date": "2024-03-09"},
        # renewed without a recertification audit and without a new certificate
        {"type": "decision", "id": "d-renew", "client": "c1", "decision_type": "renew", "date": "2024-03-01"},
        # a certificate no decision issued
        {"type": "certificate", "id": "cert-x", "client": "c1", "effective_date": "2027-05-01", "expiry_date": "2030-04-30"},
        {"type": "audit", "id": "cancelled", "client": "c1", "audit_type": "surveillance", "start_date": "2022-05-01",
         "status": "cancelled"},
        {"type": "audit", "id": "future", "client": "c1", "audit_type": "surveillance", "start_date": "2031-05-01",
         "status": "planned"},
    ]
    _, view = view_of(tmp_path, records, dt.date(2025, 6, 30))
    (client,) = view["clients"]
    cycles = client["cycles"]
    assert [(c["number"], c["kind"], c["decision"], c["certificates"]) for c in cycles] == [
        (1, "initial", "d-grant", ["cert-1", "cert-1b"]),
        (2, "recertification", "d-renew", []),
        (3, "unanchored", None, ["cert-x"])]
    assert cycles[0]["last_day"] == "2024-02-29"           # the renewal starts the next cycle
    got = codes(client)
    assert ("certificate_missing", "d-renew") in got and ("recertification_audit_missing", "d-renew") in got
    assert ("decision_missing", "cert-x") in got
    assert not [g for g in got if g[1] in ("cancelled", "future")]
    # cycle 1 had two surveillance years and no (uncancelled) surveillance audit
    assert [g["code"] for g in cycles[0]["missing"]].count("surveillance_audit_missing") == 2
    # a withdrawal ends the cycle: no surveillance year is expected after it
    withdrawn = GRANTED[:3] + [{"type": "decision", "id": "d-wd", "client": "c1", "decision_type": "withdraw",
                                "certificate": "cert-1", "date": "2021-12-01"}]
    _, view = view_of(tmp_path, withdrawn, dt.date(2025, 6, 30))
    (cycle,) = view["clients"][0]["cycles"]
    assert cycle["last_day"] == "2021-11-30" and cycle["surveillance_years_elapsed"] == 0
    assert not [g for g in cycle["missing"] if g["code"] == "surveillance_audit_missing"]


def test_stage_audits_named_or_dated_before_the_grant_count(tmp_path):
    records = GRANTED[:3] + [
        {"type": "audit", "id": "s1", "client": "c1", "audit_type": "stage1", "start_date": "2021-01-10"},
        {"type": "audit", "id": "s2", "client": "c1", "audit_type": "stage2", "start_date": "2021-04-01"},  # after the grant
    ]
    _, view = view_of(tmp_path, records, dt.date(2021, 6, 30))
    got = codes(view["clients"][0])
    assert ("stage1_audit_missing", "d-grant") not in got and ("stage2_audit_missing", "d-grant") in got
    records[1] = {**records[1], "audit": "s2"}              # the decision names it: it counts
    _, view = view_of(tmp_path, records, dt.date(2021, 6, 30))
    assert ("stage2_audit_missing", "d-grant") not in codes(view["clients"][0])


def test_invalid_and_unattributed_records_are_tolerated_and_counted(tmp_path):
    records = GRANTED[:2] + [
        {"type": "certificate", "id": "cert-1", "client": "c1", "decision": "d-grant", "expiry_date": 20240309},
        {"type": "audit", "id": "orphan", "client": "nobody", "audit_type": "stage1"},
        {"type": "widget", "id": "w1"},
        {"id": "no-type"},
    ]
    loaded, view = view_of(tmp_path, records, dt.date(2023, 6, 30))
    assert loaded.problems and view["summary"]["input_problems"] == len(loaded.problems)
    assert view["unknown_types"] == {"widget": 1} and view["untyped_records"] == 1
    assert [r["id"] for r in view["unattributed"]] == ["orphan"]
    (cycle,) = view["clients"][0]["cycles"]
    assert cycle["certificates"] == ["cert-1"] and cycle["last_day"] == "2024-03-09"   # wrong expiry ignored


def test_record_type_counts_list_every_known_type(tmp_path):
    _, view = view_of(tmp_path, GRANTED, dt.date(2023, 6, 30))
    by_type = {t["type"]: t["count"] for t in view["record_types"]}
    assert by_type["audit"] == 1 and by_type["personnel"] == 0
    assert "personnel" in view["missing_types"] and "audit" not in view["missing_types"]
    assert view["summary"]["record_types_present"] + view["summary"]["record_types_missing"] == len(by_type)
