"""What a zip archive may expand to before cbcheck reads it: a submission for `prescreen`
(checker/prescreen/archive.py) and an .xlsx workbook (a zip of XML parts, read by openpyxl for
`check`, `validate` and `import`). A 1 MB file can declare a member of gigabytes; these limits
are checked on the archive's directory, before any member is expanded. Python's zipfile never
expands a member beyond the size its directory declares (it fails on the CRC instead), so the
declared sizes are a bound on what is read.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass

MIB = 1024 * 1024
# Below this size a high compression ratio is harmless (a tiny file of spaces can exceed
# 200:1); the total-size cap still bounds the sum of many small members.
RATIO_FLOOR = 1 * MIB


@dataclass(frozen=True)
class Limits:
    """Caps on what an archive may expand to; `cbcheck prescreen --max-bytes/--max-files`."""
    max_bytes: int = 512 * MIB
    max_files: int = 50_000
    max_ratio: int = 200

    def __post_init__(self):
        for name, value in self.as_dict().items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")

    def as_dict(self) -> dict:
        return {"max_bytes": self.max_bytes, "max_files": self.max_files, "max_ratio": self.max_ratio}


def ratio_refusal(info: zipfile.ZipInfo, limits: Limits) -> str | None:
    """Why one member is refused for its compression ratio, or None."""
    if info.file_size < RATIO_FLOOR:
        return None
    ratio = info.file_size / info.compress_size if info.compress_size else float("inf")
    if ratio <= limits.max_ratio:
        return None
    shown_ratio = "unbounded" if ratio == float("inf") else f"{ratio:.0f}:1"
    return (f"compression ratio {shown_ratio} ({info.compress_size} bytes expand to {info.file_size}) is over "
            f"the limit of {limits.max_ratio}:1; real files compress far less, so this is the mark of a zip bomb")


def expansion_refusal(members: list[zipfile.ZipInfo], limits: Limits) -> str | None:
    """Why a whole archive is refused (too many members, too large once expanded, one member
    over-compressed), or None: for archives read as one file, such as a workbook."""
    if len(members) > limits.max_files:
        return f"it holds {len(members)} parts, over the limit of {limits.max_files}"
    total = sum(m.file_size for m in members)
    if total > limits.max_bytes:
        return (f"it expands to {total} bytes, over the limit of {limits.max_bytes} bytes "
                f"({limits.max_bytes / MIB:g} MiB), the mark of a decompression bomb or of a file too large to read")
    for member in members:
        why = ratio_refusal(member, limits)
        if why:
            return f"part {member.filename!r}: {why}"
    return None
