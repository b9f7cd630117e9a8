"""The first pass maps each large block on its own (stream._large_blocks_mapped): a freed copy
of its growing columns goes back to the system, not into pieces of the heap. glibc's default
would raise the size it maps from to that of each mapped block freed; with the pass's setting
a block of LARGE_BLOCK bytes or more is mapped whatever was freed before. Run in a fresh
process: the setting lasts for the process."""
from __future__ import annotations

import ctypes
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import records_folder

ROOT = Path(__file__).resolve().parents[1]

# In a child: a 4 MiB block mapped and freed (glibc's default then maps only blocks larger than
# that), then the first pass over `folder`, then a block of twice LARGE_BLOCK: mapped or not.
# Both blocks are asked for with the heap's top trimmed (malloc_trim), so neither fits there.
_CHILD = """
import ctypes, sys
sys.path.insert(0, {root!r})
from checker.records.stream import LARGE_BLOCK, first_pass
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = Info
# The heap's free top trimmed before each block asked for: a block the top has room for is
# carved from it whatever the setting (a flaky answer, depending on what imports left there).
libc.malloc_trim(0)
libc.free(libc.malloc(4 << 20))
if {run_pass}:
    first_pass({folder!r})
libc.malloc_trim(0)
before = libc.mallinfo2().hblks
block = libc.malloc(2 * LARGE_BLOCK)
print(libc.mallinfo2().hblks - before)
libc.free(block)
"""


def _mapped_after(folder: Path, run_pass: bool) -> int:
    code = _CHILD.format(root=str(ROOT), folder=str(folder), run_pass=run_pass)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout)


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "mallinfo2"), reason="glibc's mallinfo2 only")
def test_a_large_block_is_mapped_after_the_first_pass(tmp_path):
    folder = records_folder(tmp_path / "in", [
        {"type": "cb", "id": "cb-1", "name": "CB"},
        {"type": "client", "id": "c1", "name": "Client"}])
    assert _mapped_after(folder, run_pass=False) == 0       # glibc's default, as it would be
    assert _mapped_after(folder, run_pass=True) == 1
