"""The CB-wide ids each client's records refer to, packed once the index is finished
(records/index.PackedShared): each client's sorted tuple given back as it was."""
from __future__ import annotations

from checker.records.index import PackedShared


def test_packed_shared_ids_read_back_as_the_sorted_tuples_they_were():
    shared = {"c2": ("p-1", "p-3"), "c1": ("cb", "p-1", "p-2"), "c3": ()}
    packed = PackedShared(shared)
    assert packed.code == "H" and dict(packed) == shared and packed == shared and list(packed) == ["c2", "c1", "c3"]
    assert packed.get("c9", ()) == () and "c1" in packed and len(packed) == 3
    assert all(len(packed.packed[client]) == 2 * len(ids) for client, ids in shared.items())


def test_more_shared_ids_than_two_bytes_number_take_four():
    many = tuple(sorted(f"p-{k}" for k in range(70_000)))
    shared = {"c1": many, "c2": many[-2:], "c3": many[:1]}
    packed = PackedShared(shared)
    assert packed.code == "I" and dict(packed) == shared


def test_built_as_the_index_is_each_client_packed_once_others_were_added_to_since(monkeypatch):
    monkeypatch.setattr(PackedShared, "OPEN", 2)
    shared = PackedShared()
    expected: dict[str, set[str]] = {}
    visits = [("c1", ["p-2", "cb"]), ("c2", ["p-1"]), ("c3", ["p-3"]), ("c1", ["p-1", "p-2"]),
              ("c4", []), ("c2", ["p-9"]), ("c5", ["p-2"]), ("c6", ["p-4"]), ("c1", ["a-0"])]
    for client, ids in visits:
        shared.add_many(client, ids)
        expected.setdefault(client, set()).update(ids)
        assert len(shared._open) <= 2         # the others are packed, no set each
        # Read while built too: packed and open ids together, sorted.
        assert dict(shared) == {c: tuple(sorted(ids)) for c, ids in expected.items()}
    # c1 packed (twice), then added to again: open again, its packed ids kept.
    assert set(shared.packed) == {"c1", "c2", "c3", "c4", "c5"} and set(shared._open) == {"c6", "c1"}
    shared.close()
    assert not shared._open and dict(shared) == {c: tuple(sorted(ids)) for c, ids in expected.items()}
    assert shared["c1"] == ("a-0", "cb", "p-1", "p-2") and len(shared.packed["c1"]) == 8


def test_built_past_two_bytes_the_clients_packed_before_take_four():
    shared = PackedShared()
    shared.add_many("c1", ["z-1", "z-2"])
    shared.close()
    many = [f"p-{k:05d}" for k in range(70_000)]
    shared.add_many("c2", many)
    shared.add("c3", "z-2")
    shared.close()
    assert shared.code == "I" and len(shared.packed["c1"]) == 8
    assert shared["c1"] == ("z-1", "z-2") and shared["c2"] == tuple(many) and shared["c3"] == ("z-2",)
