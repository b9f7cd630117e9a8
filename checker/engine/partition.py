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
    always = [rid for rid in cb_wide if index.by_id[rid].type == "cb"]
    # CB-wide records that name a client's records (a person's consultancy for that client)
    # belong with that client too, so impartiality checks see them.
    naming: dict[str, set[str]] = {}
    for rid in cb_wide:
        for _pointer, target in index.references.get(rid, []):
            client = index.owner_client.get(target)
            if client is not None:
                naming.setdefault(client, set()).add(rid)
    partitions = []
    for client in sorted(owned):
        # Its own records refer to the CB-wide records in client_shared; from those (and the CB,
        # and those naming it) follow the CB-wide records' own references.
        members = set(owned[client]) | set(always) | naming.get(client, set())
        members.update(index.client_shared.get(client, ()))
        todo = [rid for rid in members if index.owner_client.get(rid) is None]
        while todo:  # follow references into CB-wide records, transitively
            rid = todo.pop()
            for _pointer, target in index.references.get(rid, []):
                if target not in members and index.owner_client.get(target) is None:
                    members.add(target)
                    todo.append(target)
        partitions.append(Partition(client, "client", sorted(members)))
    partitions.append(Partition(CB_PARTITION, "cb", sorted(cb_wide)))
    return partitions
