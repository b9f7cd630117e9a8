"""Derived values and the check language's type information, below both the catalog and the
engine: rule YAML -> catalog -> engine reads this package, never the other way. It imports
only checker.records, checker.dates and checker.errors.

What durable_rules cannot compute exactly (sums, counts across facts, a table look-up,
calendar years) is a derived value: one registry entry each (checker/derive/registry.py)
with its name, the record type it sits on or the new fact kind it makes, its type, what it
means, the parameters it reads and its function. Both evaluators, the engine and the
reference, read the same derived values; tests/test_derive.py holds each to hand-computed
examples, and `python -m checker.derive.table` prints the table rules/README.md carries.
"""
from checker.derive.audit_time import table1_days
from checker.derive.fields import base_type, fields_catalog
from checker.derive.registry import (AS_OF_YEAR_DEPENDENT, CB_WIDE_INPUTS, DERIVED_KINDS, FIELDS, KINDS, REGISTRY,
                                     CbWideTally, cb_share_ids, cb_shares, derive, derive_cb_wide, derived_entry)
from checker.derive.sampling import required_sample_sites

__all__ = ["AS_OF_YEAR_DEPENDENT", "CB_WIDE_INPUTS", "DERIVED_KINDS", "FIELDS", "KINDS", "REGISTRY", "CbWideTally",
           "base_type", "cb_share_ids", "cb_shares", "derive", "derive_cb_wide", "derived_entry", "fields_catalog",
           "required_sample_sites", "table1_days"]
