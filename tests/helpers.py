"""Small builders shared by the tests."""
import datetime as dt
from functools import lru_cache

from checker.catalog.check_language import parse_check
from checker.catalog.loader import Rule
from checker.derive import fields_catalog
from checker.pipeline import load_rules


def make_rule(rule_id: str, check_spec, message: str = "{" + "x}", scope: str = "client", params=None) -> Rule:
    specs = check_spec if isinstance(check_spec, list) else [check_spec]
    checks = [parse_check(s, params or {}, lambda k: fields_catalog()[k], set(fields_catalog())) for s in specs]
    first = specs[0]["match"][0]["bind"]
    return Rule(rule_id, "ISO/IEC 17021-1:2015", "9.9.9", f"test rule {rule_id}", "r" * 20, "r" * 20, "r" * 20,
                "major", True, "rules/test.yaml", needs=[], checks=checks,
                message=message.replace("x", first), scope=scope)


AS_OF = dt.date(2025, 6, 30)


def _clean(loaded):
    assert not loaded.problems, "\n".join(p.render() for p in loaded.problems)
    return loaded.rules, loaded.params


@lru_cache(maxsize=1)
def _shipped():
    return _clean(load_rules(None, None))


def shipped_rules(only=None, params_file=None):
    """The shipped catalog and its parameters; a problem with them fails the calling test.
    Without a params file they are read once per session (nothing in a run changes a Rule
    or the Parameters); each call gets its own list."""
    if params_file is not None:
        return _clean(load_rules(None, params_file, only))
    rules, params = _shipped()
    if only:
        picked = [r for r in rules if r.id in only]
        assert {r.id for r in picked} == set(only), f"no such rules: {set(only) - {r.id for r in picked}}"
        return picked, params
    return list(rules), params


def shipped_by_id():
    """The shipped catalog as {rule id: rule}, and its parameters."""
    rules, params = shipped_rules()
    return {r.id: r for r in rules}, params


def records_folder(folder, records: list[dict]):
    """`folder` (made if need be) holding `records` as one YAML record file."""
    import yaml
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "records.yaml").write_text(yaml.safe_dump(records, sort_keys=False), encoding="utf-8")
    return folder


def workbook(path, sheets: dict, setup=None):
    """An .xlsx file with one sheet per entry of `sheets` (name -> rows); `setup(book)` may
    add what plain rows cannot (merged cells, formats) before it is saved."""
    import openpyxl
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(row)
    if setup:
        setup(book)
    book.save(path)
    return path
