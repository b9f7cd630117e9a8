"""Derived values and the check language's type information, below both the catalog and the
engine: rule YAML -> catalog -> engine reads this package, never the other way. It imports
only checker.records, checker.dates and checker.errors."""
from checker.derive.fields import base_type, fields_catalog
from checker.derive.values import DERIVED_FIELDS, DERIVED_KINDS, derive, derive_cb_wide

__all__ = ["DERIVED_FIELDS", "DERIVED_KINDS", "base_type", "derive", "derive_cb_wide", "fields_catalog"]
