"""Data flows one way: each package of checker/ imports only the packages on floors below it.

The floors, bottom up (a module directly under checker/ counts as a package of its own):
the foundations every layer may use; output_files (checked targets and atomic writes, for
every layer that writes files); records (schemas, reading, validation, the index);
importers (spreadsheets and CertSearch into records); derive (derived values and the check
language's type information); catalog (rules, check language, parameters, coverage); engine
(partitions, facts, durable_rules, the reference evaluator, findings) and beside it audit_time
(the audit-time calculator, reading parameters and derive's look-ups) and cycles (each client's
certification cycle as dated events, from the record index, for the report's timelines) and
competence (the CB's people and their competences, for the report's competence matrix); report (the JSON
model and one renderer per format); history (stored runs of reports); pipeline (read ->
validate -> evaluate -> report); then prescreen, ruletest (`rules test`), forecast and explain
(`cbcheck explain`), which all run the pipeline. Packages on one floor may not import each other either."""
import ast
import tomllib
from pathlib import Path

CHECKER = Path(__file__).resolve().parents[1] / "checker"

FLOORS = [
    {"__init__", "errors", "dates", "clauses", "plain_text", "process_guard", "archive_limits", "collector"},
    {"output_files"},
    {"records"},
    {"importers"},
    {"derive"},
    {"catalog"},
    {"engine", "audit_time", "cycles", "competence"},
    {"report"},
    {"history"},
    {"pipeline"},
    {"prescreen", "ruletest", "forecast", "explain"},
]
FLOOR_OF = {package: n for n, floor in enumerate(FLOORS) for package in floor}

# Upward imports that are known and being removed, each with the change that removes it. A
# line here whose import is gone fails the test too, so the list only ever shrinks.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}


def _package_of(path: Path) -> str:
    rel = path.relative_to(CHECKER)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _from_checker(name: str) -> str:
    """`from checker import X`: a module or package X, else a name of checker/__init__.py."""
    is_module = (CHECKER / f"{name}.py").exists() or (CHECKER / name).is_dir()
    return f"checker.{name if is_module else '__init__'}"


def _imported_packages(path: Path) -> set[str]:
    """The checker packages a module imports, at any depth of the file (imports inside
    functions count: they are arrows all the same)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] if node.module != "checker" else [_from_checker(a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out |= {n.split(".")[1] for n in names if n.startswith("checker.")}
        assert not (isinstance(node, ast.ImportFrom) and node.level), f"{path}: use absolute imports"
    return out


def _arrows() -> dict[tuple[str, str], list[str]]:
    arrows: dict[tuple[str, str], list[str]] = {}
    for path in sorted(CHECKER.rglob("*.py")):
        source = _package_of(path)
        for target in _imported_packages(path) - {source}:
            arrows.setdefault((source, target), []).append(str(path.relative_to(CHECKER)))
    return arrows


def test_every_package_has_a_floor():
    packages = {_package_of(p) for p in CHECKER.rglob("*.py")}
    assert packages - set(FLOOR_OF) == set(), "place the new package on a floor in FLOORS (and the README's layout)"


def test_imports_point_only_downwards():
    upward = {arrow: files for arrow, files in _arrows().items() if FLOOR_OF[arrow[1]] >= FLOOR_OF[arrow[0]]}
    unexpected = {f"{s} -> {t} ({', '.join(files)})" for (s, t), files in upward.items() if (s, t) not in KNOWN_UPWARD}
    assert not unexpected, "imports against the layer order:\n" + "\n".join(sorted(unexpected))
    stale = {f"{s} -> {t}: {why}" for (s, t), why in KNOWN_UPWARD.items() if (s, t) not in upward}
    assert not stale, "these known exceptions are gone; delete them from KNOWN_UPWARD:\n" + "\n".join(sorted(stale))


def test_every_package_is_installed():
    """A package missing from pyproject's list works in a checkout and is absent from an
    installed cbcheck (README command 1)."""
    listed = set(tomllib.loads((CHECKER.parent / "pyproject.toml").read_text(encoding="utf-8"))
                 ["tool"]["setuptools"]["packages"])
    folders = {".".join(p.parent.relative_to(CHECKER.parent).parts) for p in CHECKER.glob("*/**/__init__.py")}
    assert folders - listed == set()
