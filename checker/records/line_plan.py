"""A chunk of JSON Lines lines made into what the first pass's index needs of it, without the
index: a pure function of the chunk's bytes, so that it runs in a process of the pass's pool
(records/file_pool.py, line_chunks.py) while the main process adds it to the index in bulk
(stream._StubIndexBuilder.add_plan).

A chunk gets a Recipe only when each of its lines holds one record of the usual case, judged
from the chunk alone: a mapping with a string id (none twice in the chunk) of a known type that
is a client or names its owner by a string, that owner a record before it in the chunk or one
outside it; and each reference of a record to another record of the chunk sound (the same
client, the type named). What the chunk cannot settle alone (whether its ids were read before,
the clients its outside owners belong to, its references outside it) the main process judges
when it adds the recipe, over the index as it stands: where any of that is not the usual case,
the chunk is added line by line as before (stream._Pass._add_chunk_parsed), so the index, its
problems and their order are those of a pass that never made a recipe.
"""
from __future__ import annotations

import operator
import sys
from itertools import chain, compress
from typing import NamedTuple

from checker.records.evidence import EvidenceCount
from checker.records.index import _values_at
from checker.records.stubs import ROW


class Recipe(NamedTuple):
    """What the index needs of a chunk's records, one a line, in order, wherever the chunk
    stands in its file."""
    ids: list[str]
    kinds: list[str]
    # Per record, its client: the number in the chunk of its client's record (a client's own),
    # or the owner field value naming a record outside the chunk whose client is its client.
    clients: list[int | str]
    # The references the chunk cannot settle alone, in the order the index meets them, as four
    # columns: record number, number of the reference field in its type's, pointer of a list's
    # item or None for a field, the id named.
    refs: tuple[list[int], list[int], list[str | None], list[str]]
    evidence: EvidenceCount
    runs: list[int]             # where each run of records of one `clients` value ends (runs_of)


class Plan(NamedTuple):
    """A recipe with the place of its chunk: its first line's number, and each record's row
    (records/stubs.ROW, packed end to end)."""
    recipe: Recipe
    first_line: int
    rows: bytes


class PlanSpec(NamedTuple):
    """What making a plan reads of the index builder (stream._StubIndexBuilder), its own state
    aside: per type its owner field and reference fields (parts, pointer, target type), the
    types' row numbers, and the number rows give the root "" of a JSON Lines record."""
    owner_fields: dict[str, str | None]
    refs: dict[str, list[tuple]]
    type_no: dict[str, int]
    root_no: int
    type_names: dict[str, str]      # each type's name to itself: the one copy of it


def recipe_of(datas: list, spec: PlanSpec) -> Recipe | None:
    """The recipe of a chunk whose lines hold `datas` (quick_json_line's), or None when the
    chunk is not all of the usual case (see the module's docstring)."""
    if not all(type(data) is dict for data in datas):
        return None
    # The types as the spec's own strings (None for any other): a recipe pickled to the main
    # process holds each once, not once a record.
    types = spec.type_names
    ids, kinds = [data.get("id") for data in datas], [data.get("type") for data in datas]
    if not (all(type(rid) is str for rid in ids) and all(type(kind) is str for kind in kinds)):
        return None
    kinds = [types.get(kind) for kind in kinds]
    at = {rid: k for k, rid in enumerate(ids)}
    if len(at) != len(ids) or None in kinds:
        return None
    clients = _clients(datas, ids, kinds, at, spec)
    refs = None if clients is None else _outside_refs(datas, kinds, clients, at, spec)
    if refs is None:
        return None
    evidence = EvidenceCount()
    for data in datas:
        evidence.add(data)
    return Recipe(ids, kinds, clients, refs, evidence, runs_of(clients))


def runs_of(clients: list) -> list[int]:
    """The end of each run of equal values in Recipe.clients: the main process adds each run's
    records to their client at once."""
    return [*compress(range(1, len(clients)), map(operator.ne, clients[1:], clients)), len(clients)]


def _clients(datas: list[dict], ids: list[str], kinds: list[str], at: dict[str, int], spec: PlanSpec) -> list | None:
    """Each record's client as Recipe.clients holds it; None when one is not of the usual case
    (CB-wide, no owner, its owner later in the chunk)."""
    clients: list[int | str] = []
    for k, (data, kind) in enumerate(zip(datas, kinds)):
        if kind == "client":
            clients.append(k)
            continue
        owner_field = spec.owner_fields[kind]
        owner = data.get(owner_field) if owner_field else None
        if type(owner) is not str:
            return None
        j = at.get(owner)
        if j is None:
            clients.append(owner)
        elif j < k:
            clients.append(clients[j])
        else:
            return None
    return clients


def _outside_refs(datas: list[dict], kinds: list[str], clients: list, at: dict[str, int], spec: PlanSpec) -> tuple | None:
    """The references naming records outside the chunk, as Recipe.refs holds them; None when one
    naming a record of the chunk is not sound (another client's, or of another type)."""
    records, fields, items, values = [], [], [], []
    intern = sys.intern     # an id many name (a person) pickled once a chunk, not once a reference
    for k, (data, kind) in enumerate(zip(datas, kinds)):
        for field_no, (parts, pointer, target_type) in enumerate(spec.refs[kind]):
            found = [(None, data.get(parts[0]))] if pointer is not None else _values_at(data, parts)
            for item, value in found:
                if type(value) is not str:      # a wrong type is the schema's finding
                    continue
                j = at.get(value)
                if j is None:
                    records.append(k)
                    fields.append(field_no)
                    items.append(item)
                    values.append(intern(value))
                elif clients[j] != clients[k] or kinds[j] != target_type:
                    return None
    return records, fields, items, values


def joined(recipes: list[Recipe], spec: PlanSpec) -> Recipe | None:
    """One recipe of consecutive chunks' `recipes`, as recipe_of makes it of their lines
    together (fewer, larger plans cost the main process less to add, and a reference or owner
    from one of the chunks to another is settled here), or None when the chunks together are
    not all of the usual case (an id twice, an owner later, an unsound reference between them)."""
    ids = list(chain.from_iterable(recipe.ids for recipe in recipes))
    at = {rid: k for k, rid in enumerate(ids)}
    if len(at) != len(ids):
        return None
    kinds = list(chain.from_iterable(recipe.kinds for recipe in recipes))
    clients: list[int | str] = []
    for recipe in recipes:
        base = len(clients)
        for client in recipe.clients:
            if type(client) is int:     # a client's record of its own chunk
                clients.append(client + base)
                continue
            j = at.get(client)          # in another chunk, if any
            if j is not None and j >= base:
                return None             # a later one: its owner not read yet
            clients.append(client if j is None else clients[j])
    refs = _joined_refs(recipes, kinds, clients, at, spec)
    if refs is None:
        return None
    evidence = EvidenceCount()
    for recipe in recipes:
        evidence.merge(recipe.evidence)
    return Recipe(ids, kinds, clients, refs, evidence, runs_of(clients))


def _joined_refs(recipes: list[Recipe], kinds: list[str], clients: list, at: dict[str, int], spec: PlanSpec):
    """The references of `recipes` naming no record of any of them (Recipe.refs), the others
    settled: None when one of those is not sound."""
    records, fields, items, values = [], [], [], []
    base = 0
    for recipe in recipes:
        for k, field_no, item, value in zip(*recipe.refs):
            k += base
            j = at.get(value)
            if j is None:
                records.append(k)
                fields.append(field_no)
                items.append(item)
                values.append(value)
            elif clients[j] != clients[k] or kinds[j] != spec.refs[kinds[k]][field_no][2]:
                return None
        base += len(recipe.ids)
    return records, fields, items, values


def plan_of(recipe: Recipe, lines: list, file_no: int, spec: PlanSpec) -> Plan:
    """`recipe` placed where its chunk's `lines` (offset, number, raw, digest) are, in
    file `file_no`."""
    pack, type_no, root_no = ROW.pack, spec.type_no, spec.root_no
    rows = b"".join([pack(offset, number, number, digest, type_no[kind], file_no, root_no)
                     for (offset, number, _raw, digest), kind in zip(lines, recipe.kinds)])
    return Plan(recipe, lines[0][1], rows)
