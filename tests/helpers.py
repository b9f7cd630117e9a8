"""Small builders shared by the engine tests."""
import datetime as dt

from checker.catalog.check_language import parse_check
from checker.catalog.loader import Rule
from checker.derive import fields_catalog


def make_rule(rule_id: str, check_spec, message: str = "{" + "x}", scope: str = "client", params=None) -> Rule:
    specs = check_spec if isinstance(check_spec, list) else [check_spec]
    checks = [parse_check(s, params or {}, lambda k: fields_catalog()[k], set(fields_catalog())) for s in specs]
    first = specs[0]["match"][0]["bind"]
    return Rule(rule_id, "ISO/IEC 17021-1:2015", "9.9.9", f"test rule {rule_id}", "r" * 20, "r" * 20, "r" * 20,
                "major", True, "rules/test.yaml", needs=[], checks=checks,
                message=message.replace("x", first), scope=scope)


AS_OF = dt.date(2025, 6, 30)


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
