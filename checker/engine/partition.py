"""Splits the indexed records into partitions: one per client, holding everything that client
owns plus the CB-wide records (people, the CB itself) that its records refer to, and one
CB-wide partition for the rules about the CB as a whole. Memory stays bounded by the largest
client, however many clients there are, and partitions can run in parallel.
"""
from __future__ import annotations

from dataclasses import dataclass

from checker.records.index import RecordIndex

CB_PARTITION = "__cb__"


# Which rules run on a partition. The CB-wide partition also runs the client rules: appeals and
# complaints that name no client live there, and the client rules about them must see them.
RULE_SCOPES = {"client": ("client",), "cb": ("cb", "client")}


@dataclass
class Partition:
    sid: str
    scope: str                 # "client" or "cb"
    record_ids: list[str]


def build_partitions(index: RecordIndex) -> list[Partition]:
    owned: dict[str, list[str]] = {}
    cb_wide: list[str] = []
    for rid, client in index.owner_client.items():
        if client is None:
            cb_wide.append(rid)
        else:
            owned.setdefault(client, []).append(rid)
    shares = CbWideShares(index, cb_wide)
    partitions = [Partition(client, "client", sorted({*owned[client], *shares.of(client)})) for client in sorted(owned)]
    partitions.append(Partition(CB_PARTITION, "cb", sorted(cb_wide)))
    return partitions


class CbWideShares:
    """The CB-wide records (`cb_wide`: the ids no client owns) each client's partition holds:
    the CB's own (type cb), those its records refer to (the index's client_shared), those that
    name its records (a person's consultancy for that client: impartiality checks see them), and
    the CB-wide records those refer to, transitively."""

    def __init__(self, index: RecordIndex, cb_wide: list[str]):
        self.index = index
        self.always = {rid for rid in cb_wide if index.by_id[rid].type == "cb"}
        self.naming: dict[str, set[str]] = {}
        for rid in cb_wide:
            for _pointer, target in index.references.get(rid, []):
                client = index.owner_client.get(target)
                if client is not None:
                    self.naming.setdefault(client, set()).add(rid)
        self._reached: dict[str, frozenset[str]] = {}

    def of(self, client: str) -> list[str]:
        """The CB-wide records `client`'s partition holds, sorted."""
        start = self.always | self.naming.get(client, set()) | set(self.index.client_shared.get(client, ()))
        members = set(start)
        for rid in start:
            members |= self._reach(rid)
        return sorted(members)

    def _reach(self, rid: str) -> frozenset[str]:
        """The CB-wide records the references of CB-wide record `rid` lead to, transitively
        (found once for each: clients share most of theirs)."""
        found = self._reached.get(rid)
        if found is None:
            owners, references = self.index.owner_client, self.index.references
            seen: set[str] = set()
            todo = [rid]
            while todo:
                for _pointer, target in references.get(todo.pop(), []):
                    if target not in seen and owners.get(target) is None:
                        seen.add(target)
                        todo.append(target)
            found = self._reached[rid] = frozenset(seen)
        return found
