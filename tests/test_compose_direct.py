"""The two ways YAML is built (records/compose_direct.py: data straight from the parser's
events; records/compose.py then PyYAML's constructor: through nodes) give the same documents:
data (types and key order included), lines, first lines and problems; or the direct way
leaves the text to the node path (Unusual), only for what its docstring lists."""
import random
from pathlib import Path

import pytest

from checker.records.compose import ALIAS_BUDGET, MAX_DEPTH, MAX_INT_DIGITS, BoundedComposer
from checker.records.compose_direct import DirectComposer, Unusual
from checker.records.located import _yaml_documents, load_yaml_documents

ROOT = Path(__file__).resolve().parents[1]

# (name, text): built the same both ways.
SAME = [
    ("record", "id: cl-1\ntype: client\nname: Acme\nsites:\n  - {id: s1, staff: 12}\n  - id: s2\n"),
    ("scalars", "a: 12\nb: 012\nc: 0x1F\nd: 1_000\ne: 1:30\nf: 1.5\ng: .inf\nh: -.nan\ni: ~\nj: null\n"
                "k: yes\nl: Off\nm: 'quoted 12'\nn: \"x\\ty\"\no: 2024-01-05\np: ''\nq:\nr: -7\ns: +3\n"),
    ("tags", "a: !!str 12\nb: !!int \"42\"\nc: !!float \"1.5\"\nd: !!bool \"yes\"\ne: !!null \"\"\n"
             "f: ! 12\ng: !!int \"٣\"\nh: !!seq [1]\ni: !!map {x: 1}\n"),
    ("keys", "1: one\ntrue: t\nnull: n\n1.5: f\nyes: y\n'2': quoted\n"),
    ("colliding keys", "1: one\ntrue: two\n"),
    ("duplicate keys", "a: 1\nb: 2\na: 3\n"),
    ("anchors", "base: &b {x: 1, y: [1, 2]}\nsame: *b\nlist: &l [a, b]\nagain: *l\nword: &w hello\necho: *w\n"),
    ("anchored key", "? &k name\n: value\nother: *k\n"),
    ("multi", "---\na: 1\n---\n- x\n- y\n---\nplain text\n---\n"),
    ("empty", ""),
    ("comment only", "# nothing here\n"),
    ("long ints", "a: 9223372036854775807\nb: 9223372036854775808\nc: -99999999999999999999\nd: 1e400\n"),
    ("surrogate", "a: \"\\ud800\"\nb: ok\n"),
    ("deep", "a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n"),
    ("long int", "a: " + "9" * (MAX_INT_DIGITS + 1) + "\n"),
    ("alias bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                   + "".join(f"b{i}: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n" for i in range(ALIAS_BUDGET // 90))),
    ("own alias", "a: &a [1, *a]\n"),
    ("duplicate anchor", "a: &x 1\nb: &x 2\n"),
    ("undefined alias", "a: *nowhere\n"),
    ("broken", "a: [1, 2\nb: 3\n"),
    ("flow", "{a: [1, {b: c}], d: e}\n"),
    ("nested keys stay text", "outer:\n  inner:\n    - {k: v, 'k2': [1, 2]}\n"),
]
# (name, text): left to the node path.
UNUSUAL = [
    ("merge key", "base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n"),
    ("value key", "=: v\n"),
    ("list as key", "? [a, b]\n: v\n"),
    ("mapping as key", "? {a: 1}\n: v\n"),
    ("alias as key", "a: &k name\n*k : v\n"),
    ("custom tag", "a: !thing 1\n"),
    ("binary", "a: !!binary aGVsbG8=\n"),
    ("set", "a: !!set {x, y}\n"),
    ("timestamp tag", "a: !!timestamp 2024-01-05\n"),
    ("bad bool", "a: !!bool maybe\n"),
    ("bad float", "a: !!float abc\n"),
]


def _view(result):
    documents, problems = result
    return [(repr(d.data), d.lines, d.first_line, d.not_json, d.unsound) for d in documents], problems


@pytest.mark.parametrize("name,text", SAME, ids=[name for name, _ in SAME])
def test_direct_builds_what_the_nodes_build(name, text):
    direct = _view(_yaml_documents(text, "f.yaml", DirectComposer))
    assert direct == _view(_yaml_documents(text, "f.yaml", BoundedComposer))
    assert direct == _view(load_yaml_documents(text, "f.yaml"))


@pytest.mark.parametrize("name,text", UNUSUAL, ids=[name for name, _ in UNUSUAL])
def test_direct_leaves_the_unusual_to_the_nodes(name, text):
    with pytest.raises(Unusual):
        _yaml_documents(text, "f.yaml", DirectComposer)
    assert _view(load_yaml_documents(text, "f.yaml")) == _view(_yaml_documents(text, "f.yaml", BoundedComposer))


def test_every_yaml_file_of_the_project_builds_the_same_directly():
    files = sorted(p for folder in ("rules", "fixtures") for p in (ROOT / folder).rglob("*.y*ml"))
    assert len(files) > 400
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert _view(_yaml_documents(text, str(path), DirectComposer)) == \
            _view(_yaml_documents(text, str(path), BoundedComposer)), path


def _outcome(composer_class, text: str):
    try:
        return _view(_yaml_documents(text, "f.yaml", composer_class))
    except Unusual:
        raise
    except Exception as exc:  # noqa: BLE001 - compared: both paths must fail alike
        return type(exc).__name__, str(exc)


def test_mutated_records_build_the_same_both_ways():
    """Record files with YAML's sharp edges spliced in at random (seeded): either the direct
    way leaves the text to the nodes, or both ways give the same (a failure too). 16,000
    such texts agreed when this was written; a few hundred run here."""
    rng = random.Random(20261207)
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "fixtures" / "demo-cb").rglob("*.yaml"))][:40]
    splices = [":", " ", "\n", "&a ", "*a", "!!int ", "!!str ", "? ", "- ", "'", '"', "012", "yes", "~", "[", "]",
               "{", "}", ",", "<<: *a\n", ".inf", "#", "\\ud800", "!x ", "\t", "---\n", "é"]
    direct = 0
    for _ in range(400):
        text = rng.choice(texts)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(splices) + text[at + rng.choice([0, 0, 1, 2]):]
        try:
            built = _outcome(DirectComposer, text)
        except Unusual:
            continue
        direct += 1
        assert built == _outcome(BoundedComposer, text), text
    assert direct > 300
