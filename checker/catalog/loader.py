"""Loads the rule catalog: every rule file validated against rules/rule.schema.json, every
check parsed and type-checked against the record schemas, every problem located."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator

from checker.catalog.check_language import Check, CheckError, parse_check
from checker.catalog.parameters import Parameters
from checker.catalog.skeleton import Skeleton, load_skeleton
from checker.derive import DERIVED_KINDS, REGISTRY, base_type, derived_entry, fields_catalog
from checker.errors import Problem
from checker.records.located import Document, escape_pointer_token, load_yaml_documents
from checker.records.schema_registry import record_types

SEVERITY_ORDER = {"major": 0, "minor": 1, "observation": 2}
TEMPLATE_FIELD = re.compile(r"\{(\$?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}")


def default_rules_dir() -> Path:
    """The rules shipped with cbcheck: the copy installed as checker/rules_bundle (see
    pyproject.toml), else, in a source checkout or editable install, the top-level `rules/`."""
    package = Path(__file__).resolve().parents[1]
    bundled = package / "rules_bundle"
    if (bundled / "rule.schema.json").is_file():
        return bundled
    return package.parent / "rules"


@dataclass
class Rule:
    id: str
    standard: str
    clause: str
    title: str
    requirement: str
    rationale: str
    remediation: str
    severity: str
    automated: bool
    file: str
    needs: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    message: str = ""
    evidence: str = ""
    clause_confidence: str = ""
    references: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    notes: str = ""
    scope: str = "client"
    derived: list[str] = field(default_factory=list)     # registry names of the derived values it reads
    also_clauses: list[dict] = field(default_factory=list)   # [{standard, clause}] also evidenced
    structure: list[dict] = field(default_factory=list)      # [{standard, clause, title}] see skeleton.py
    # Indexes of the alternatives a run leaves out because their evidence is incomplete
    # (set by checker/catalog/evidence.judged_part, never by the catalog itself).
    unjudged: frozenset = frozenset()

    def judged_checks(self) -> list[tuple[int, Check]]:
        """(index, check) of every alternative the evaluators run."""
        return [(alt, check) for alt, check in enumerate(self.checks) if alt not in self.unjudged]

    def clause_ref(self) -> str:
        return f"{self.standard} {self.clause}"

    def cited_clauses(self) -> list[tuple[str, str]]:
        """Every (standard, clause) the rule evidences: its own clause first."""
        return [(self.standard, self.clause)] + [(c["standard"], c["clause"]) for c in self.also_clauses]

    def summary(self) -> dict:
        return {"id": self.id, "standard": self.standard, "clause": self.clause,
                "clause_confidence": self.clause_confidence or None, "title": self.title,
                "requirement": self.requirement, "rationale": self.rationale, "remediation": self.remediation,
                "also_clauses": self.also_clauses, "structure": self.structure,
                "severity": self.severity, "automation": "automated" if self.automated else "manual",
                "needs": self.needs, "scope": self.scope, "evidence": self.evidence or None,
                "references": self.references, "tags": self.tags, "file": self.file,
                "derived": [{"name": name, "meaning": REGISTRY[name].meaning} for name in self.derived]}


@lru_cache(maxsize=4)
def _rule_validator(schema_path: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(Path(schema_path).read_text(encoding="utf-8")))


NOT_RULES = ("parameters.yaml", "clauses.yaml")   # catalog data beside the rules


def rule_files(rules_dir: Path) -> list[Path]:
    return sorted(p for p in rules_dir.rglob("*.yaml")
                  if not p.name.endswith(".test.yaml") and p.name not in NOT_RULES
                  and "parameters.d" not in p.relative_to(rules_dir).parts)


def fixture_file(rule_file: Path) -> Path:
    return rule_file.with_name(rule_file.name.removesuffix(".yaml") + ".test.yaml")


def _scope(check: Check) -> str:
    kinds = [b.kind for b in check.bindings]
    scopes = {DERIVED_KINDS[k].scope if k in DERIVED_KINDS else record_types()[base_type(k)].scope for k in kinds}
    return "client" if "client" in scopes else "cb"


def _template_problems(template: str, checks: list[Check], param_names) -> list[str]:
    """Names in `template` that some check it applies to cannot fill."""
    out = []
    for m in TEMPLATE_FIELD.finditer(template):
        name = m.group(1)
        if name.startswith("$"):
            if name != "$as_of" and name[1:] not in param_names:
                out.append(f"message names unknown parameter {name}")
            continue
        binding, _, fld = name.partition(".")
        for check in checks:
            kinds = {b.name: b.kind for b in check.bindings}
            if binding not in kinds:
                out.append(f"message names {name!r} but {binding!r} is not a binding of "
                           + (f"alternative {check.label!r}" if check.label else "every alternative that uses it"))
                break
            if fld and fld not in fields_catalog()[kinds[binding]]:
                out.append(f"message names {name!r} but {kinds[binding]} has no field {fld!r}")
                break
    return out


def _derived_read(checks: list[Check], templates: list[tuple[str, list[Check]]]) -> set[str]:
    """Registry names of the derived values `checks` and their message `templates` read."""
    reads = {pair for check in checks for pair in check.fields_read()}
    for template, applies_to in templates:
        for check in applies_to:
            kinds = {b.name: b.kind for b in check.bindings}
            for m in TEMPLATE_FIELD.finditer(template):
                binding, _, fld = m.group(1).partition(".")
                if binding in kinds:
                    reads.add((kinds[binding], fld))
    return {entry.key for kind, fld in reads for entry in (derived_entry(kind, fld),) if entry is not None}


def _derived_problems(rule: Rule, templates, doc, rel: str) -> list[Problem]:
    read, named = _derived_read(rule.checks, templates), set(rule.derived)
    pointer = "/derived" if "derived" in doc.data else ""
    out = []
    if read - named:
        out.append(Problem(rel, doc.line_of(pointer), pointer,
                           f"the check reads derived values it does not name: {', '.join(sorted(read - named))}",
                           "every derived value the rule reads listed in `derived:` (rules/README.md lists them)"))
    if named - read:
        out.append(Problem(rel, doc.line_of(pointer), pointer,
                           f"`derived:` names values the check does not read: {', '.join(sorted(named - read))}",
                           "only the derived values the check or message reads"))
    return out


@lru_cache(maxsize=1024)
def _read_rule_text(text: str, rel: str, schema_path: str) -> tuple[Document | None, tuple[Problem, ...]]:
    """The rule file's one YAML document, valid against the rule schema, or its problems.
    Kept per file text (the parameters are applied after it): a process that reads the catalog
    again, as the test suite's hundred command runs do, reads only the files that changed. Nothing
    changes a Document once read."""
    docs, problems = load_yaml_documents(text, rel)
    if problems:
        return None, tuple(problems)
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        return None, (Problem(rel, None, "", "a rule file holds exactly one YAML mapping", "one rule per file"),)
    doc = docs[0]
    for err in _rule_validator(schema_path).iter_errors(doc.data):
        pointer = "".join("/" + escape_pointer_token(p) for p in err.absolute_path)
        problems.append(Problem(rel, doc.line_of(pointer), pointer, err.message, "see rules/rule.schema.json"))
    return (None, tuple(problems)) if problems else (doc, ())


def load_rule(path: Path, params: Parameters, rel: str, schema_path: Path,
              skeleton: Skeleton | None = None) -> tuple[Rule | None, list[Problem]]:
    doc, read_problems = _read_rule_text(path.read_text(encoding="utf-8"), rel, str(schema_path))
    if doc is None:
        return None, list(read_problems)
    data, problems = doc.data, []
    automated = data["automation"] == "automated"
    rule = Rule(data["id"], data["standard"], data["clause"], data["title"].strip(), data["requirement"].strip(),
                data["rationale"].strip(), data["remediation"].strip(), data["severity"], automated, rel,
                list(data.get("needs", [])), [], data.get("message", "").strip(), data.get("evidence", "").strip(),
                data.get("clause_confidence", ""), list(data.get("references", [])), list(data.get("tags", [])),
                data.get("notes", "").strip())
    rule.derived = list(data.get("derived", []))
    rule.also_clauses = [{"standard": c["standard"], "clause": c["clause"]} for c in data.get("also_clauses", [])]
    placement_problems = _place_in_skeleton(rule, skeleton, doc.line_of)
    if not automated:
        rule.scope = "cb"
        problems = placement_problems + _derived_problems(rule, [], doc, rel)
        return (None if problems else rule), problems
    specs = data["check"]["any_of"] if "any_of" in data["check"] else [data["check"]]
    kinds = set(fields_catalog())
    for i, spec in enumerate(specs):
        pointer = f"/check/any_of/{i}" if "any_of" in data["check"] else "/check"
        try:
            rule.checks.append(parse_check(spec, params.values(), lambda k: fields_catalog()[k], kinds))
        except CheckError as exc:
            problems.append(Problem(rel, doc.line_of(pointer), pointer, str(exc), "a check in the documented language"))
        except KeyError as exc:
            problems.append(Problem(rel, doc.line_of(pointer), pointer, f"unknown name {exc}", "known kinds and fields"))
    if problems:
        return None, problems
    scopes = {_scope(c) for c in rule.checks}
    if len(scopes) > 1:
        problems.append(Problem(rel, doc.line_of("/check"), "/check",
                                "alternatives mix client-wide and CB-wide record kinds", "one scope per rule"))
    rule.scope = scopes.pop()
    problems += _needs_problems(rule, doc.line_of("/needs"), rel) + placement_problems
    # The rule's message serves the alternatives without a message of their own.
    uses = [(rule.message, [c for c in rule.checks if not c.message], "/message")]
    uses += [(c.message, [c], f"/check/any_of/{i}/message") for i, c in enumerate(rule.checks) if c.message]
    for text, checks, pointer in uses:
        for msg in _template_problems(text, checks, params.items):
            problems.append(Problem(rel, doc.line_of(pointer), pointer, msg, "{binding.field} or {$parameter}"))
    problems += _derived_problems(rule, [(text, checks) for text, checks, _ in uses], doc, rel)
    return (None if problems else rule), problems


def _needs_problems(rule: Rule, line: int | None, rel: str) -> list[Problem]:
    """`needs` must name every record type the check reads. A type looked for in an `absent`
    clause counts: on an input without any such record the absence proves nothing
    (checker/catalog/evidence.py)."""
    problems = []
    read_types = {base_type(k.kind) for c in rule.checks for k in [*c.bindings, *c.absent]}
    missing = sorted(read_types - set(rule.needs))
    if missing:
        problems.append(Problem(rel, line, "/needs",
                                f"needs omits record types the check binds or looks for as absent: {', '.join(missing)}",
                                "every record type the check reads listed"))
    unknown = sorted(set(rule.needs) - set(record_types()))
    if unknown:
        problems.append(Problem(rel, line, "/needs", f"unknown record types {', '.join(unknown)}", "record type names"))
    return problems


def _place_in_skeleton(rule: Rule, skeleton: Skeleton | None, line_of) -> list[Problem]:
    """Checks the rule's additional clauses against the skeleton and places the rule in each
    structure the skeleton describes (once per structure clause, whichever clause led there)."""
    problems, cited = [], rule.cited_clauses()
    for i, (standard, clause) in enumerate(cited[1:]):
        where = f"/also_clauses/{i}"
        if cited.index((standard, clause)) == 0:
            problems.append(Problem(rule.file, line_of(where), where, f"{standard} {clause} is the rule's own clause",
                                    "only clauses other than `clause`"))
        elif skeleton is None or not skeleton.knows(standard, clause):
            problems.append(Problem(rule.file, line_of(where), where,
                                    f"{standard} {clause} is not a clause of rules/clauses.yaml",
                                    "a clause listed in rules/clauses.yaml"))
    if skeleton is not None:
        for standard, clause in cited:
            rule.structure += [p for p in skeleton.placements(standard, clause) if p not in rule.structure]
    return problems


def load_catalog(rules_dir: Path, params: Parameters, only: set[str] | None = None) -> tuple[list[Rule], list[Problem]]:
    rules, seen = [], {}
    skeleton, problems = load_skeleton(rules_dir)
    for path in rule_files(rules_dir):
        rel = "rules/" + path.relative_to(rules_dir).as_posix()
        rule, errs = load_rule(path, params, rel, rules_dir / "rule.schema.json", skeleton)
        problems.extend(errs)
        if rule is None:
            continue
        if rule.id in seen:
            problems.append(Problem(rel, 1, "/id", f"rule id {rule.id} already used by {seen[rule.id]}", "unique rule ids"))
            continue
        seen[rule.id] = rel
        if only is None or rule.id in only:
            rules.append(rule)
    for rule_id in sorted(set(params.not_applicable) - set(seen)):
        problems.append(Problem("--params", None, f"/not_applicable/{rule_id}", f"no rule {rule_id!r} in the catalog",
                                "an existing rule id"))
    rules.sort(key=lambda r: r.id)
    return rules, problems
