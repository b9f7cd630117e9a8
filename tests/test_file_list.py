"""What a streamed run keeps of its record files and of where the spill holds each one's entry
(records/file_list.py, records/spill.Places) is packed, and answers exactly as the lists and
dicts it stands for: every file's absolute path and shown name, odd names included."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from checker.records.file_list import FileList
from checker.records.reader import input_files
from checker.records.spill import Places


@pytest.fixture
def folder(tmp_path) -> Path:
    """Record files in nested folders, one whose name reports show escaped."""
    root = tmp_path / "export"
    for rel in ("cb.yaml", "clients/cl1/records.yaml", "clients/cl2/records.json", "odd\nname.yaml", "z.jsonl"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("{}\n", encoding="utf-8")
    return root


def _absolute(files) -> list[tuple[Path, str]]:
    return [(Path(os.path.abspath(path)), name) for path, name in files]


def test_a_folder_s_files_read_back_as_listed(folder, monkeypatch):
    monkeypatch.chdir(folder.parent)
    listed = input_files("export")[0]        # relative: the list holds them absolute
    files = FileList(listed)
    assert "odd\\nname.yaml" in [name for _path, name in listed]
    assert list(files) == _absolute(listed)
    assert [files[n] for n in range(len(files))] == _absolute(listed)
    assert list(files.names) == [name for _path, name in listed]
    assert files[-1] == files[len(files) - 1] and files == listed
    with pytest.raises(IndexError):
        files.name(len(files))


def test_a_single_file_and_the_pickle_the_workers_get(folder):
    single = FileList(input_files(folder / "cb.yaml")[0])
    assert list(single) == [(folder / "cb.yaml", "cb.yaml")]
    files = FileList(input_files(folder)[0])
    sent = pickle.dumps(files)
    # Strings and arrays, no Path a file: what the workers get for every file of the export.
    assert b"pathlib" not in sent
    assert list(pickle.loads(sent)) == list(files)


def test_places_read_as_the_dict_they_stand_for():
    places, expected = Places(), {}
    for file_no, place in ((5, ("records-a.spill", 0, 300)), (2, ("records-b.spill", 10, 40)),
                           (5, ("records-a.spill", 300, 7)), (9, ("records-a.spill", 2 ** 40, 1))):
        places[file_no] = expected[file_no] = place
    assert dict(places) == expected and len(places) == 3 and sorted(places) == [2, 5, 9]
    assert places.get(3) is None and 0 not in places and places.get(-1) is None
    del places[2]
    del expected[2]
    assert places.pop(9) == ("records-a.spill", 2 ** 40, 1) and places.pop(9, None) is None
    del expected[9]
    assert dict(pickle.loads(pickle.dumps(places))) == expected
    with pytest.raises(KeyError):
        del places[2]
    with pytest.raises(ValueError):
        places[1] = ("records-a.spill", 0, 0)
