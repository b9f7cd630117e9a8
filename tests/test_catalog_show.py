"""`rules show` prints each rule's check as its author wrote it: the printed block must be the
very check the loader read, for every automated rule of the catalog."""
from pathlib import Path

import yaml

from checker.catalog.loader import default_rules_dir
from checker.catalog.show import check_as_written
from tests.helpers import shipped_rules


def test_the_printed_check_is_the_check_the_loader_read():
    rules_dir = default_rules_dir()
    automated = [r for r in shipped_rules()[0] if r.automated]
    assert automated
    for rule in automated:
        rule_file = rules_dir / Path(rule.file).relative_to("rules")
        assert yaml.safe_load(check_as_written(rule_file)) == yaml.safe_load(rule_file.read_text())["check"], rule.id
