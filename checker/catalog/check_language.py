"""The check language: parsing and type-checking a rule's `check` into a small IR.

A check is a list of *bindings* (facts that must all be found together), optional *absent*
clauses (the finding holds only when no fact satisfies the clause), and the record and field
the finding points at. Conditions are one-line strings with a closed grammar:

    missing(FIELD) | present(FIELD)
    FIELD OP VALUE                    OP: == != < <= > >=
    FIELD in [LIT, ...] | FIELD not in [LIT, ...]
    FIELD is not LIT | FIELD is not in [LIT, ...]   (true when FIELD is missing, too)
    VALUE: 'text' | 12 | 2.5 | true | false | $parameter | $as_of | binding.FIELD | self.FIELD
           optionally followed by + or - and an OFFSET: N | $parameter
           | days(N|$p) | months(N|$p) | years(N|$p)        (offsets in time need dates)

FIELD is a field of the fact being bound; nested record fields are written with dots
(`audit_time.persons`), `X.count` is the length of array X and `D.year` the year of date D.

Semantics every evaluator must share (the differential test holds them to it):
- A test that reads a missing field is false, whatever the operator (`!=` and `not in` too),
  except `is not`, which is made for "missing or something else" (status is not 'cancelled').
- A binding matches only facts that have every field later tests read from it.
- One fact never fills two bindings, and a fact bound in the match never satisfies an
  `absent` clause.
- `date + months(n)` is the same day n calendar months on; where that day does not exist in
  the target month it sorts after the month's last day and before the next month's first.
- Parameters and `$as_of` are constants of the run.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=")
TIME_UNITS = ("days", "months", "years")


class CheckError(ValueError):
    """A check that cannot be compiled; the message says what to change."""


@dataclass(frozen=True)
class Lit:
    value: object


@dataclass(frozen=True)
class Ref:
    binding: str
    field: str


@dataclass(frozen=True)
class AsOf:
    pass


@dataclass(frozen=True)
class SelfRef:
    """Another field of the same fact: `verified_date >= self.raised_date`."""
    field: str


@dataclass(frozen=True)
class Offset:
    unit: str          # "number", "days", "months" (years are turned into months)
    amount: float


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    rhs: object        # Lit | Ref | AsOf (parameters are resolved to Lit at parse time)
    offset: Offset | None = None
    source: str = ""


@dataclass(frozen=True)
class Exists:
    field: str
    present: bool
    source: str = ""


@dataclass(frozen=True)
class OneOf:
    field: str
    values: tuple
    negate: bool
    source: str = ""
    missing_ok: bool = False      # `is not`: a missing field counts as "not one of them"


@dataclass
class Binding:
    name: str
    kind: str
    conditions: list = field(default_factory=list)

    def refs(self):
        return [c.rhs for c in self.conditions if isinstance(c, Compare) and isinstance(c.rhs, Ref)]


@dataclass
class Absent:
    kind: str
    conditions: list = field(default_factory=list)

    def refs(self):
        return [c.rhs for c in self.conditions if isinstance(c, Compare) and isinstance(c.rhs, Ref)]


@dataclass
class Check:
    bindings: list[Binding]
    absent: list[Absent]
    subject: str                  # binding whose record the finding names
    subject_field: str            # field (dotted) the finding points at; "" for the record
    label: str = ""
    message: str = ""

    def fields_read(self) -> set[tuple[str, str]]:
        """(kind, field) of every field a condition reads, on either side, and (kind, "") for
        every kind the check binds or tests as absent."""
        kinds = {b.name: b.kind for b in self.bindings}
        out = set()
        for clause in [*self.bindings, *self.absent]:
            out.add((clause.kind, ""))
            for cond in clause.conditions:
                out.add((clause.kind, cond.field))
                rhs = getattr(cond, "rhs", None)
                if isinstance(rhs, SelfRef):
                    out.add((clause.kind, rhs.field))
                elif isinstance(rhs, Ref):
                    out.add((kinds[rhs.binding], rhs.field))
        if self.subject_field:
            out.add((kinds[self.subject], self.subject_field))
        return out

    def required_fields(self) -> dict[str, set[str]]:
        """Fields each binding must have because a later test reads them."""
        need: dict[str, set[str]] = {b.name: set() for b in self.bindings}
        for clause in [*self.bindings, *self.absent]:
            for ref in clause.refs():
                need[ref.binding].add(ref.field)
        return need


_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'[^']*'|"[^"]*")
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<op>==|!=|<=|>=|<|>|\+|-|\(|\)|\[|\]|,)
  | (?P<word>\$?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
)""", re.VERBOSE)


def _tokens(text: str):
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise CheckError(f"cannot read {text[pos:]!r} in condition {text!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _literal(kind, value):
    if kind == "str":
        return value[1:-1]
    if kind == "num":
        return float(value) if "." in value else int(value)
    if kind == "word" and value in ("true", "false"):
        return value == "true"
    return None


class _Parser:
    def __init__(self, text, params, bindings, fields_of, kind, own_name=None):
        self.own_name = own_name
        self.text, self.toks, self.i = text, _tokens(text), 0
        self.params, self.bindings, self.fields_of, self.kind = params, bindings, fields_of, kind

    def peek(self, n=0):
        return self.toks[self.i + n] if self.i + n < len(self.toks) else (None, None)

    def take(self, kind=None, value=None):
        tok = self.peek()
        if tok[0] is None or (kind and tok[0] != kind) or (value is not None and tok[1] != value):
            want = value or kind or "more"
            raise CheckError(f"expected {want!r} at {' '.join(v for _, v in self.toks[self.i:]) or 'end'!r} "
                             f"in condition {self.text!r}")
        self.i += 1
        return tok

    def field(self, name):
        info = self.fields_of(self.kind).get(name)
        if info is None:
            known = ", ".join(sorted(self.fields_of(self.kind)))
            raise CheckError(f"{self.kind} has no field {name!r} (in {self.text!r}); fields: {known}")
        return info

    def param(self, word):
        name = word[1:]
        if name not in self.params:
            raise CheckError(f"unknown parameter ${name} in {self.text!r}; define it in rules/parameters.yaml")
        value = self.params[name]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise CheckError(f"parameter ${name} is not a single number or text and cannot be used in {self.text!r}")
        return value

    def parse(self):
        kind, word = self.take("word")
        if word in ("missing", "present") and self.peek() == ("op", "("):
            self.take("op", "(")
            _, name = self.take("word")
            if name not in self.fields_of(self.kind) and f"{name}.count" in self.fields_of(self.kind):
                name = f"{name}.count"    # an array is present when given, even empty
            self.field(name)
            self.take("op", ")")
            self.end()
            return Exists(name, word == "present", self.text)
        info = self.field(word)
        tok = self.peek()
        if tok == ("word", "is"):
            self.take()
            self.take("word", "not")
            if self.peek() == ("word", "in"):
                self.take()
                values = self.literal_list()
            else:
                kind, value = self.take()
                values = [_literal(kind, value)]
                if values[0] is None:
                    raise CheckError(f"`is not` takes a literal or a list in {self.text!r}")
            for v in values:
                self.check_value(word, info, v)
            self.end()
            return OneOf(word, tuple(values), True, self.text, missing_ok=True)
        if tok == ("word", "in") or tok == ("word", "not"):
            negate = tok[1] == "not"
            self.take()
            if negate:
                self.take("word", "in")
            values = self.literal_list()
            for v in values:
                self.check_value(word, info, v)
            self.end()
            return OneOf(word, tuple(values), negate, self.text)
        _, op = self.take("op")
        if op not in COMPARE_OPS:
            raise CheckError(f"unknown operator {op!r} in {self.text!r}; use one of {', '.join(COMPARE_OPS)}")
        rhs, rhs_info = self.value()
        offset = self.offset()
        self.end()
        self.type_check(word, info, op, rhs, rhs_info, offset)
        return Compare(word, op, rhs, offset, self.text)

    def literal_list(self):
        self.take("op", "[")
        values = []
        while True:
            kind, value = self.take()
            lit = _literal(kind, value)
            if lit is None:
                raise CheckError(f"list items must be literals in {self.text!r}")
            values.append(lit)
            kind, value = self.take("op")
            if value == "]":
                return values
            if value != ",":
                raise CheckError(f"expected ',' or ']' in {self.text!r}")

    def value(self):
        kind, value = self.take()
        lit = _literal(kind, value)
        if lit is not None:
            return Lit(lit), None
        if kind != "word":
            raise CheckError(f"expected a value after the operator in {self.text!r}")
        if value == "$as_of":
            return AsOf(), "date"
        if value.startswith("self."):
            fld = value.removeprefix("self.")
            info = self.fields_of(self.kind).get(fld)
            if info is None:
                raise CheckError(f"{self.kind} has no field {fld!r} in {self.text!r}")
            return SelfRef(fld), info.kind
        if value.startswith("$"):
            return Lit(self.param(value)), None
        binding, _, fld = value.partition(".")
        if binding == self.own_name:
            raise CheckError(f"{self.text!r} names the fact being bound as {binding}.{fld}; write self.{fld} "
                             f"to compare two fields of the same fact")
        if binding not in self.bindings or not fld:
            known = ", ".join(self.bindings) or "none yet"
            raise CheckError(f"{value!r} in {self.text!r} is neither a literal, a $parameter nor binding.field "
                             f"of an earlier binding ({known})")
        info = self.fields_of(self.bindings[binding]).get(fld)
        if info is None:
            raise CheckError(f"{self.bindings[binding]} (binding {binding}) has no field {fld!r} in {self.text!r}")
        return Ref(binding, fld), info.kind

    def offset(self):
        tok = self.peek()
        if tok not in (("op", "+"), ("op", "-")):
            return None
        sign = 1 if self.take()[1] == "+" else -1
        kind, word = self.take()
        unit = "number"
        if kind == "word" and word in TIME_UNITS:
            unit = word
            self.take("op", "(")
            kind, word = self.take()
            self.take("op", ")")
        amount = self.param(word) if kind == "word" and word.startswith("$") else _literal(kind, word)
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            raise CheckError(f"offset must be a number or numeric $parameter in {self.text!r}")
        if unit == "years":
            unit, amount = "months", amount * 12
        if unit in ("days", "months") and amount != int(amount):
            raise CheckError(f"time offsets must be whole numbers in {self.text!r}")
        return Offset(unit, sign * amount)

    def end(self):
        if self.i != len(self.toks):
            raise CheckError(f"unexpected {' '.join(v for _, v in self.toks[self.i:])!r} in {self.text!r}")

    def check_value(self, name, info, value):
        if info.kind in ("string",) and not isinstance(value, str):
            raise CheckError(f"{name} holds text; compare it with a quoted value in {self.text!r}")
        if info.kind in ("number", "integer", "count") and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise CheckError(f"{name} holds a number in {self.text!r}")
        if info.kind == "boolean" and not isinstance(value, bool):
            raise CheckError(f"{name} holds true/false in {self.text!r}")
        if info.kind == "date":
            raise CheckError(f"{name} is a date: compare it with a date field or $as_of in {self.text!r}")
        if info.enum and value not in info.enum:
            raise CheckError(f"{value!r} is not a possible value of {name} ({', '.join(info.enum)}) in {self.text!r}")

    def type_check(self, name, info, op, rhs, rhs_kind, offset):
        if isinstance(rhs, Lit):
            if info.kind == "date" and isinstance(rhs.value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", rhs.value):
                rhs_kind = "date"
            else:
                self.check_value(name, info, rhs.value)
                rhs_kind = info.kind
        numeric = ("number", "integer", "count")
        same = (info.kind == rhs_kind or (info.kind in numeric and rhs_kind in numeric)
                or (info.kind == "string" and rhs_kind == "string"))
        if not same:
            raise CheckError(f"cannot compare {name} ({info.kind}) with a {rhs_kind} in {self.text!r}")
        if op not in ("==", "!=") and info.kind not in (*numeric, "date"):
            raise CheckError(f"{op} needs numbers or dates; {name} is {info.kind} in {self.text!r}")
        if offset is not None:
            if op in ("==", "!="):
                raise CheckError(f"an offset needs <, <=, > or >= in {self.text!r}")
            if info.kind == "date" and offset.unit == "number":
                raise CheckError(f"write the offset of a date as days(N), months(N) or years(N) in {self.text!r}")
            if info.kind != "date" and offset.unit != "number":
                raise CheckError(f"{offset.unit}(...) offsets need a date field in {self.text!r}")
            if isinstance(rhs, Lit) and info.kind != "date":
                raise CheckError(f"fold the offset into the number in {self.text!r}")


def parse_condition(text, params, bindings, fields_of, kind, own_name=None):
    if not isinstance(text, str):
        raise CheckError(f"a condition must be a one-line string, found {text!r}")
    return _Parser(text, params, bindings, fields_of, kind, own_name).parse()


def parse_check(spec: dict, params: dict, fields_of, known_kinds) -> Check:
    """Parse one check (one alternative of a rule). `fields_of(kind)` gives a kind's fields."""
    bindings: dict[str, str] = {}
    parsed_bindings = []
    for i, item in enumerate(spec.get("match") or []):
        name, kind = item["bind"], item["kind"]
        if kind not in known_kinds:
            raise CheckError(f"match[{i}]: unknown fact kind {kind!r}; kinds: {', '.join(sorted(known_kinds))}")
        if name in bindings:
            raise CheckError(f"match[{i}]: binding name {name!r} used twice")
        conds = [parse_condition(t, params, bindings, fields_of, kind, name) for t in item.get("where") or []]
        bindings[name] = kind
        parsed_bindings.append(Binding(name, kind, conds))
    if not parsed_bindings:
        raise CheckError("a check needs at least one `match` binding")
    absent = []
    for i, item in enumerate(spec.get("absent") or []):
        kind = item["kind"]
        if kind not in known_kinds:
            raise CheckError(f"absent[{i}]: unknown fact kind {kind!r}")
        absent.append(Absent(kind, [parse_condition(t, params, bindings, fields_of, kind)
                                    for t in item.get("where") or []]))
    finding = spec.get("finding") or {}
    subject = finding.get("record", parsed_bindings[0].name)
    if subject not in bindings:
        raise CheckError(f"finding.record {subject!r} is not a binding ({', '.join(bindings)})")
    subject_field = finding.get("field", "")
    known = fields_of(bindings[subject])
    if subject_field and not (subject_field in known or any(k.startswith(subject_field + ".") for k in known)):
        raise CheckError(f"finding.field {subject_field!r} is not a field of {bindings[subject]}")
    return Check(parsed_bindings, absent, subject, subject_field, spec.get("label", ""), spec.get("message", ""))
