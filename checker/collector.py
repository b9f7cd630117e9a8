"""The cyclic garbage collector kept away from objects a run makes in bulk and holds to its end.

Python's full collections walk every tracked object; a run that makes hundreds of thousands
of long-lived objects at once (a cached night's decoded verdicts, the clients' CB-wide inputs
read back) pays for each walk of them again, though none is in a reference cycle.
"""
from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def uncollected():
    """The collector kept out while the block makes its objects, and every object alive at its
    end frozen out of its reach (gc.freeze: never walked again; workers.run_partitions unfreezes
    them with the rest when its pool closes). Only for objects held until the run hands them
    on: a reference cycle made in the block is never collected."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.freeze()
