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
