"""fast_json.exact_json gives what the exact reader (located._parse_json) gives without a
problem, or None: never other data, never a text the exact reader would refuse or report."""
from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checker.records.fast_json import exact_json, exact_json_texts
from checker.records.located import json_line_document


def _exact(text: str):
    document, problems = json_line_document(text, "f.jsonl", 1)
    return None if document is None or problems else document.data


@pytest.mark.parametrize("text", [
    '{"a": 1, "a": 2}',                                  # a duplicate key
    '{"a": "x:y", "a": "z"}',                            # ... with a colon in a string to hide it
    '{"a": "\\u003a", "a": "q"}',                        # ... with an escaped colon to hide it
    '{"a": {"b": 1, "b": 1}}',                           # ... nested
    '{"a": 123456789012345678901234567890}',             # beyond 64 bits: orjson makes a float
    '{"a": -9223372036854775809}',
    '{"a": NaN}', '{"a": Infinity}', '{"a": 1e400}',     # not finite
    '{"a": "\\ud800"}',                                  # a lone surrogate escape
    '{"a": "x\ty"}',                                     # a raw control character
    '{"\\u0061": 1, "a": 2}',                          # a duplicate spelt with an escape
    '{"a": 1,}', '[1,]', '{"a": 1} x', '', '\ufeff{}', '\u00a0{}', '\x0c{}', '01', '1.', '+1', "'a'",
    "[" * 70 + "]" * 70,                                 # deeper than MAX_DEPTH
])
def test_it_leaves_what_it_cannot_be_sure_of_to_the_exact_reader(text):
    assert exact_json(text) is None


@pytest.mark.parametrize("text", [
    '{"type": "audit", "id": "a1", "date": "2025-01-02", "days": 1.5, "team": [{"p": "x"}, {"p": "y"}]}',
    '{"standards": ["ISO/IEC 20000-1:2018"], "a:b": "c:d", "n": 922337203685477580}',
    '{"name": "\\u00e9l\\u00e8ve", "tab": "a\\tb", "empty": {}, "list": [], "z": null, "t": true}',
    '[{"a": 1}, {"a": 2}]', '5', '"text"',
])
def test_it_reads_sound_texts_as_the_exact_reader_does(text):
    got = exact_json(text)
    assert got is not None and repr(got) == repr(_exact(text))


def test_floats_read_to_the_same_double():
    rng = random.Random(12)
    values = [rng.uniform(-1e6, 1e6) for _ in range(300)] + [rng.random() * 10.0 ** rng.randint(-300, 18)
                                                             for _ in range(300)]
    texts = [repr(v) for v in values] + ["0.1", "2.5e-5", "1E5", "-0.0", "4.35", "0.30000000000000004",
                                         "2.2250738585072011e-308", "9007199254740993.0"]
    text = '{"v": [' + ",".join(texts) + "]}"
    assert exact_json(text) is not None and repr(exact_json(text)) == repr(_exact(text))


_keys = st.text(alphabet=st.sampled_from("ab:\\\"é"), min_size=1, max_size=3)
_values = st.recursive(st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats(allow_nan=False)
                       | st.text(alphabet=st.sampled_from("x:\\\"é\t\u2028"), max_size=4),
                       lambda inner: st.lists(inner, max_size=3) | st.lists(st.tuples(_keys, inner), max_size=4),
                       max_leaves=12)


def _text(value) -> str:
    """JSON text of `value`, where a list of (key, value) pairs is an object that may repeat keys."""
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        return "{" + ", ".join(f"{json.dumps(k)}: {_text(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return json.dumps(value)


@settings(max_examples=150, deadline=None)
@given(_values, st.booleans())
def test_it_never_reads_other_data_than_the_exact_reader(value, ascii_only):
    text = _text(value)
    if ascii_only:
        text = text.encode("ascii", "backslashreplace").decode().replace("\\x", "\\u00")
    got = exact_json(text)
    if got is not None:
        assert repr(got) == repr(_exact(text))


_UNSURE = ['{"a": 1, "a": 2}', '{"a": "x:y", "a": "z"}', '{"a": "\\u003a", "a": "q"}',
           '{"a": 123456789012345678901234567890}', '{"a": "\\ud800"}', "[" * 70 + "]" * 70, '{"a": 1,}', '',
           '{"a": [' + "[" * 40 + "]" * 40 + "]}"]
_SURE = ['{"type": "audit", "id": "a1", "team": [{"p": "x"}, {"p": "y"}]}', '{"a:b": "c:d", "n": 922337203685477580}',
         '{"n": 12345678901234567}', "[" * 30 + "]" * 30, '{"b": [' + "{}, " * 40 + "{}]}", '"text"', "5"]


@pytest.mark.parametrize("seed", range(40))
def test_texts_read_together_as_each_is_read_alone(seed):
    """exact_json_texts gives every text's exact_json when it is sure of each, and None as soon
    as it is not sure of one: a duplicate key, a long run of digits, a deep text is never
    hidden by its neighbours (a text of 43 brackets passes, two of them together hold 86)."""
    rng = random.Random(seed)
    texts = rng.sample(_SURE, rng.randint(0, len(_SURE)))
    if seed % 2:
        texts.insert(rng.randint(0, len(texts)), rng.choice(_UNSURE))
    alone = [exact_json(text) for text in texts]
    together = exact_json_texts(texts)
    if any(data is None for data in alone):
        assert together is None
    else:
        assert together is not None and repr(together) == repr(alone)


def test_a_text_with_its_own_line_break_is_judged_by_its_own_brackets():
    deep = "[" * 40 + "\n" + "[" * 40 + "]" * 80      # 80 brackets, no line of them over 64
    assert exact_json(deep) is None and exact_json_texts(["1", deep]) is None
