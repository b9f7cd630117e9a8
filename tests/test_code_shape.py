"""The code stays readable as it grows: no function (or method) in checker/ is longer than
60 lines, decorators and docstring included; a longer one is split by what its parts do."""
import ast
from pathlib import Path

CHECKER = Path(__file__).resolve().parents[1] / "checker"
MAX_LINES = 60


def long_functions(source: str, name: str) -> list[str]:
    """'file:line name (N lines)' for every function of `source` over MAX_LINES lines."""
    out = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            length = node.end_lineno - first + 1
            if length > MAX_LINES:
                out.append(f"{name}:{node.lineno} {node.name} ({length} lines)")
    return out


def test_no_function_in_checker_is_over_60_lines():
    files = sorted(CHECKER.rglob("*.py"))
    assert len(files) > 50, f"only {len(files)} modules found under {CHECKER}"
    too_long = [f for path in files
                for f in long_functions(path.read_text(encoding="utf-8"), str(path.relative_to(CHECKER.parent)))]
    assert too_long == [], "split these by what their parts do:\n" + "\n".join(too_long)


def test_the_measure_counts_nested_functions_and_decorators():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES - 2))
    fits = f"def fits():\n{body}\n    return 0\n"                # exactly MAX_LINES lines
    assert long_functions(fits, "fits.py") == []
    decorated = "@staticmethod\n" + fits
    assert long_functions(decorated, "d.py") == [f"d.py:2 fits ({MAX_LINES + 1} lines)"]
    nested = "class C:\n    def outer(self):\n" + "\n".join("        " + line for line in fits.splitlines())
    assert [f.split(" ")[1] for f in long_functions(nested, "n.py")] == ["outer"]
