"""host.batch_text: the JSON text of a batch of facts, as durable_rules' own json.dumps would
give it to the C core, or None where the two could differ."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random

import orjson
import pytest

from checker.engine.host import batch_text


def test_every_character_is_written_as_durable_rules_writes_it():
    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    facts = [{"sid": "s", "kind": "k", "id": text[:5000], "note": text}]
    assert batch_text(facts) == json.dumps(facts, ensure_ascii=False, separators=(",", ":"))


def test_integers_and_booleans_are_written_alike():
    facts = [{"id": "a", "n": n, "t": True, "f": False} for n in (0, -1, 7, 2 ** 63 - 1, -2 ** 63, 2 ** 64 - 1)]
    assert batch_text(facts) == json.dumps(facts, ensure_ascii=False, separators=(",", ":"))


def test_every_float_is_written_to_the_same_value_with_a_dot():
    # the C core (json.c getNumber) reads a number as a double only when it holds a "."; without
    # one (json.dumps' 1e-05, both writers' 1e+16) it reads an integer and then garbage
    rng = random.Random(3)
    values = [rng.random() * 10.0 ** rng.randint(-330, 308) * rng.choice((1, -1)) for _ in range(5000)]
    values += [0.5, -0.0, 4.35, 1e15, 1e16, -1e16, 2e22, 1.5e300, 1e-4, 0.1, 5e-4, 1e-7, 5e-324, 1e-5, -3e-5]
    for value in values:
        ours = batch_text([{"v": value}])[6:-2]
        assert float(ours) == value and "." in ours, (ours, value)


def test_strings_that_look_like_exponents_stay_as_they_are():
    facts = [{"id": "1e5", "v": "x2E9", "n": 7, "f": 2.5}]
    assert batch_text(facts) == json.dumps(facts, ensure_ascii=False, separators=(",", ":"))


@dataclasses.dataclass
class _Point:
    x: int


class _Text(str):
    pass


class _Number(float):
    pass


@pytest.mark.parametrize("value", [
    None, float("nan"), float("inf"), -float("inf"),       # orjson writes null where json.dumps writes NaN, Infinity
    2 ** 64, -2 ** 63 - 1,                                 # beyond what orjson writes
    dt.date(2025, 1, 1), _Point(1), _Text("x"),            # json.dumps refuses these, orjson would write them
    _Number(1e16), _Number(float("nan")),                  # orjson refuses a float subclass
])
def test_what_could_differ_is_left_to_durable_rules_own_json(value):
    assert batch_text([{"sid": "s", "kind": "k", "id": "a", "v": value}]) is None


def test_keys_and_strings_that_look_like_numbers_or_null_keep_orjsons_text():
    # a membership flag's key ends in a hex digest ("...__isnot_af941e01"): only a float is
    # written again (positionally), and a string holding "null" is no NaN (both went to json.dumps)
    facts = [{"sid": "s", "kind": "k", "id": "a", "x__isnot_af941e01": True, "y__in_12e4": False, "v": 2.5,
              "note": "null or void, 1e+16"}]
    assert batch_text(facts) == orjson.dumps(facts).decode() == json.dumps(facts, ensure_ascii=False,
                                                                           separators=(",", ":"))
