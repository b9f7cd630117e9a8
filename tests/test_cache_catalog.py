"""`check --cache DIR` keeps the loaded catalog (engine/cache/catalog.py): read back, it is the
catalog load_rules gives; a change to a rule file, the parameters, the --params file, the
--rule ids or cbcheck's code is a miss, never the stored catalog; a damaged, foreign or
tampered file is a miss, never a crash; a catalog with problems is not stored."""
import shutil
from pathlib import Path

import pytest

from checker.engine.cache import catalog as catalog_cache
from checker.engine.cache.catalog import CATALOG_FILE, catalog_key, read_catalog
from checker.pipeline import load_rules

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fresh():
    """The shipped catalog loaded without a cache."""
    return load_rules(None, None)


@pytest.fixture()
def rules(tmp_path) -> Path:
    return Path(shutil.copytree(ROOT / "rules", tmp_path / "rules"))


def test_a_stored_catalog_reads_back_as_loaded(fresh, tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir()
    first = load_rules(None, None, None, folder)
    assert (folder / CATALOG_FILE).is_file()
    key = catalog_key(ROOT / "rules", None, None)
    stored = read_catalog(folder, key)
    assert stored is not None and stored == (fresh.rules, fresh.params)
    again = load_rules(None, None, None, folder)
    assert (first.rules, first.params, first.problems) == (fresh.rules, fresh.params, [])
    assert (again.rules, again.params, again.problems) == (fresh.rules, fresh.params, [])


def test_every_input_of_the_catalog_is_in_its_key(rules, tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    folder.mkdir()
    load_rules(rules, None, None, folder)
    params = tmp_path / "params.yaml"
    params.write_text("parameters:\n  first_surveillance_max_months: 13\n")
    base = catalog_key(rules, None, None)
    assert catalog_key(rules, params, None) != base
    assert catalog_key(rules, None, {"CYC002"}) != base
    monkeypatch.setattr(catalog_cache, "code_digest", lambda: "other code")
    assert catalog_key(rules, None, None) != base
    monkeypatch.undo()
    # An edited rule, edited parameter defaults: the stored catalog is never served, the new one is.
    rule = rules / "iso17021-1" / "9.1.3.3-first-surveillance.yaml"
    rule.write_text(rule.read_text().replace("status is not 'cancelled'", "status is not 'planned'"))
    defaults = rules / "parameters.yaml"
    defaults.write_text(defaults.read_text().replace("value: 12", "value: 11", 1))
    assert catalog_key(rules, None, None) != base
    edited = load_rules(rules, None, None, folder)
    assert (edited.rules, edited.params) == (lambda r: (r.rules, r.params))(load_rules(rules, None))
    assert edited.rules != load_rules(None, None).rules and edited.params != load_rules(None, None).params
    with_params = load_rules(rules, params, None, folder)
    assert with_params.params.values()["first_surveillance_max_months"] == 13


@pytest.mark.parametrize("damage", ["truncated", "garbage", "body", "foreign class", "empty"])
def test_a_damaged_or_tampered_catalog_is_a_miss(fresh, tmp_path, damage):
    folder = tmp_path / "cache"
    folder.mkdir()
    load_rules(None, None, None, folder)
    path = folder / CATALOG_FILE
    data = path.read_bytes()
    head, _nl, body = data.partition(b"\n")
    if damage == "truncated":
        path.write_bytes(data[:len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\xff" * 100)
    elif damage == "body":         # the body changed, the head not: its checksum no longer matches
        path.write_bytes(head + b"\n" + body.replace(b"major", b"minor", 1))
    elif damage == "foreign class":     # a well-formed file naming a class the catalog does not hold
        bad = body.replace(b'"C","Rule"', b'"C","Popen"', 1)
        path.write_bytes(catalog_cache._head(catalog_key(ROOT / "rules", None, None), bad) + b"\n" + bad)
    else:
        path.write_bytes(b"")
    assert read_catalog(folder, catalog_key(ROOT / "rules", None, None)) is None
    loaded = load_rules(None, None, None, folder)
    assert (loaded.rules, loaded.params, loaded.problems) == (fresh.rules, fresh.params, [])
    assert read_catalog(folder, catalog_key(ROOT / "rules", None, None)) is not None    # stored again


def test_a_catalog_with_problems_is_not_stored(rules, tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir()
    (rules / "iso17021-1" / "broken.yaml").write_text("id: [not, a, rule\n")
    loaded = load_rules(rules, None, None, folder)
    assert loaded.problems
    assert not (folder / CATALOG_FILE).exists()
    unknown = load_rules(None, None, {"NO-SUCH-RULE"}, folder)
    assert unknown.problems and not (folder / CATALOG_FILE).exists()
