"""What a nightly `check` of record files loads: nothing it does not use.

Each module left out is start-up time every run pays (importers/detect.py). Checked in a fresh
interpreter, since this test process has imported everything already.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "fixtures" / "demo-cb"
# The importers a run over record files never calls (the workbook, CSV and database readers).
IMPORTERS = ("checker.importers.dispatch", "checker.importers.certsearch_options", "checker.importers.mapping",
             "checker.importers.tabular", "checker.importers.certsearch", "checker.importers.database",
             "checker.importers.export")

_LOADED_AFTER = """
import json, runpy, sys
sys.path.insert(0, {root!r})
sys.argv = [{cli!r}, *{args!r}]
try:
    runpy.run_path({cli!r}, run_name="__main__")
except SystemExit as exc:
    code = exc.code
print(json.dumps([code, sorted(sys.modules)]))
"""


def _loaded_after(*args: str) -> tuple[int, set[str]]:
    """(exit code, the modules loaded) of `cbcheck ARGS` run in a fresh interpreter."""
    script = _LOADED_AFTER.format(root=str(ROOT), cli=str(ROOT / "cli.py"), args=list(args))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    code, modules = json.loads(out.splitlines()[-1])
    return code, set(modules)


def test_a_check_of_record_files_loads_no_importer(tmp_path):
    code, modules = _loaded_after("check", str(DEMO), "--as-of", "2026-11-25", "--format", "json",
                                  "--output", str(tmp_path / "r.json"), "--fail-on", "none", "--quiet")
    assert code == 0 and json.loads((tmp_path / "r.json").read_text())["summary"]["findings"] > 0
    assert modules.isdisjoint(IMPORTERS), sorted(modules & set(IMPORTERS))


def test_a_workbook_option_loads_the_importers(tmp_path):
    # The other side: options for a CertSearch workbook still reach its reader (which refuses
    # them for record files, as before).
    code, modules = _loaded_after("check", str(DEMO), "--as-of", "2026-11-25", "--format", "json",
                                  "--output", str(tmp_path / "r.json"), "--status-map", "Inactive=withdrawn")
    assert code == 2 and "checker.importers.certsearch_options" in modules
