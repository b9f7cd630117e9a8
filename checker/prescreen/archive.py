"""Opens a submission a CB sent to its accreditation body: a folder or a .zip, both untrusted.

Whatever the submission is, the records end up as plain regular files in a fresh private
temporary folder (mode 0700), and only that folder is ever read. A zip is extracted member by
member; a folder is copied the same way. Copying a folder costs a little time but gives both
kinds the same guarantees: no link is followed, a FIFO named `x.yaml` cannot hang the reader,
and the files cannot change between being checked and being read.

Policy when some members are refused (links, traversal, duplicates, bombs...): the safe
members are still extracted and the refused ones are returned as problems naming the member
and why. The accreditation body then gets the whole completeness picture at once instead of
one refusal per round trip with the CB, and the caller must end the run with exit code 2
(the records it evaluates are not the whole submission). Limits that concern the submission
as a whole (total size, file count, an archive that lies about its sizes, an unreadable
archive) refuse it entirely: nothing is returned to read.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from checker.archive_limits import MIB, Limits, ratio_refusal
from checker.errors import Problem, sort_problems
from checker.plain_text import shown, unsafe
from checker.process_guard import stop_signals_held

CHUNK = 256 * 1024
NESTED_ARCHIVES = (".zip", ".jar", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".zst", ".lz", ".lzma",
                   ".7z", ".rar", ".cab")
DRIVE = re.compile(r"^[A-Za-z]:")
ASK_CB = "regular record files inside the submission; ask the CB to resend the file itself"


@dataclass
class SubmissionInfo:
    """What was opened, for the `submission` part of the prescreen result."""
    source: str
    kind: str                      # "zip", "folder" or "unknown" (neither: refused)
    limits: Limits
    files: int = 0                 # files written to the private folder
    bytes: int = 0                 # bytes written there
    refused: list[Problem] = field(default_factory=list)
    ignored: list[dict] = field(default_factory=list)   # {"path", "reason"}: seen, deliberately not read

    def as_dict(self) -> dict:
        return {"source": self.source, "kind": self.kind, "files": self.files, "bytes": self.bytes,
                "limits": self.limits.as_dict(),
                "refused": [p.as_dict() for p in sort_problems(self.refused)],
                "ignored": sorted(self.ignored, key=lambda i: (i["path"], i["reason"]))}


class Opened(tuple):
    """Unpacks as the triple `(folder, problems, cleanup)`; `.info` carries the summary.

    `folder` is None when the submission was refused as a whole. `cleanup()` removes the
    private folder; it is safe to call more than once and must always be called."""

    def __new__(cls, folder: Path | None, problems: list[Problem], cleanup: Callable[[], None],
                info: SubmissionInfo):
        self = super().__new__(cls, (folder, problems, cleanup))
        self.info = info
        return self

    folder = property(lambda self: self[0])
    problems = property(lambda self: self[1])
    cleanup = property(lambda self: self[2])


class _Abort(Exception):
    """A limit that concerns the whole submission was crossed: stop and refuse it."""

    def __init__(self, problem: Problem):
        self.problem = problem


def _refuse(name: str, why: str, expected: str = ASK_CB) -> Problem:
    return Problem(shown(name), None, "", "refused: " + why, expected)


def _name_parts(name: str) -> tuple[list[str] | None, str | None]:
    """The path components of a member or file name, or why the name is unsafe. Backslashes
    count as separators: Windows tools write them, and an extractor that kept them literal
    would read a different tree than the CB sent."""
    if any(unsafe(ch) for ch in name):
        return None, "the name holds control characters or bytes that are not UTF-8, which hide what a file is"
    raw = name.replace("\\", "/")
    if raw.startswith("/") or DRIVE.match(raw):
        return None, "absolute path; extracting it would write outside the submission folder"
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        return None, "path traversal ('..' component); extracting it would write outside the submission folder"
    if not parts:
        return None, "empty name"
    return parts, None


def _ignore_reason(parts: list[str]) -> str | None:
    if parts[0] == "__MACOSX" or parts[-1].startswith("._") or parts[-1] == ".DS_Store":
        return "macOS metadata, not a record file"
    if parts[-1].lower().endswith(NESTED_ARCHIVES):
        return "nested archive; not extracted (ask the CB to send its contents unpacked in the submission)"
    return None


def _collision_key(parts: list[str]) -> str:
    # NFC + casefold: names that one file system keeps apart and another merges must not let
    # the platform decide which copy of a record the AB reads.
    return "/".join(unicodedata.normalize("NFC", p).casefold() for p in parts)


def _refuse_collisions(entries: list[tuple]) -> tuple[list[tuple], list[Problem]]:
    """Drop every entry (name, parts, ...) of a group whose names collide, and files that are
    also used as a folder: which of them the CB meant is not ours to guess."""
    groups: dict[str, list[str]] = {}
    for name, parts, *_rest in entries:
        groups.setdefault(_collision_key(parts), []).append(name)
    folders = {_collision_key(entry[1][:i]) for entry in entries for i in range(1, len(entry[1]))}
    problems, kept = [], []
    for entry in entries:
        name, parts = entry[0], entry[1]
        key = _collision_key(parts)
        others = [shown(o) for o in groups[key] if o != name]
        if len(groups[key]) > 1:
            what = "the same name" if all(o == name for o in groups[key]) else "names equal once case and Unicode form are ignored"
            problems.append(_refuse(name, f"duplicate member: {len(groups[key])} members have {what}"
                                    + (f" ({', '.join(sorted(set(others)))})" if others else "")
                                    + "; which one holds the CB's records cannot be told",
                                    "each file once, under one name"))
        elif key in folders:
            problems.append(_refuse(name, "the name is both a file and a folder in the archive",
                                    "each file once, under one name"))
        else:
            kept.append(entry)
    return kept, problems


def _too_many(count: int, limits: Limits, source: str) -> Problem:
    return Problem(source, None, "", f"refused: the submission holds more than {limits.max_files} files "
                   f"({count} found so far), the limit; it keeps a submission from exhausting disk space "
                   "and file handles, or burying records among a flood of files",
                   "fewer files, or a higher --max-files if the CB really has that many")


def _too_big(size: int, limits: Limits, source: str, how: str) -> Problem:
    return Problem(source, None, "", f"refused: the submission {how} {size} bytes uncompressed, over the limit "
                   f"of {limits.max_bytes} bytes ({limits.max_bytes / MIB:g} MiB); the limit stops a "
                   "decompression bomb or an oversized submission from filling the disk",
                   "a smaller submission, or a higher --max-bytes if the records really are that large")


def _make_parents(root: Path, parts: list[str]) -> Path:
    """Create the member's folders inside `root` (0700); never through an existing non-folder."""
    here = root
    for part in parts[:-1]:
        here = here / part
        try:
            os.mkdir(here, 0o700)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(here).st_mode):
                raise OSError(f"{part!r} exists and is not a folder") from None
    return here / parts[-1]


class _Writer:
    """Writes files into the private folder, counting actual bytes against the total cap."""

    def __init__(self, root: Path, limits: Limits, info: SubmissionInfo):
        self.root, self.limits, self.info = root, limits, info

    def write(self, name: str, parts: list[str], read: Callable[[int], bytes], declared: int | None) -> Problem | None:
        dest = _make_parents(self.root, parts)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        written, problem = 0, None
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := read(CHUNK):
                    written += len(chunk)
                    if declared is not None and written > declared:
                        problem = _refuse(name, f"holds more data than its header declares ({declared} bytes); "
                                          "a header that lies about sizes defeats the size limits")
                        break
                    if self.info.bytes + written > self.limits.max_bytes:
                        raise _Abort(_too_big(self.info.bytes + written, self.limits, self.info.source,
                                              "expanded to more than"))
                    out.write(chunk)
        except BaseException:
            os.unlink(dest)          # no partial file is ever left to be read
            raise
        if problem:
            os.unlink(dest)
            return problem
        self.info.files += 1
        self.info.bytes += written
        return None


def _member_refusal(info: zipfile.ZipInfo, limits: Limits) -> str | None:
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if info.flag_bits & 0x1:
        return "encrypted member; cbcheck cannot read it and will not ask for a password"
    if kind == stat.S_IFLNK:
        return "symbolic link; links in a submission are never followed, since one can point at files outside it"
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        return "device or special file (FIFO, socket, device node); only regular files hold records"
    return ratio_refusal(info, limits)


def _is_dir(info: zipfile.ZipInfo) -> bool:
    # a trailing separator, a Unix folder mode or the MS-DOS folder attribute (0x10)
    return info.filename.endswith(("/", "\\")) or stat.S_ISDIR(info.external_attr >> 16) \
        or bool(info.external_attr & 0x10)


def _open_zip(path: Path, root: Path, limits: Limits, info: SubmissionInfo, problems: list[Problem]) -> None:
    source = info.source
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise _Abort(Problem(source, None, "", f"refused: not a readable zip archive ({exc})",
                             "an intact .zip; ask the CB to send it again")) from None
    with archive:
        members = archive.infolist()
        candidates = []
        for member in members:
            parts, why = _name_parts(member.filename)
            why = why or _member_refusal(member, limits)
            if why:
                problems.append(_refuse(member.filename, why))
                continue
            if _is_dir(member):
                if member.file_size:
                    problems.append(_refuse(member.filename, "a folder entry that holds data; what it holds "
                                            "cannot be told"))
                continue        # folders come from the files' paths; an empty one carries nothing
            reason = _ignore_reason(parts)
            if reason:
                info.ignored.append({"path": shown(member.filename), "reason": reason})
                continue
            candidates.append((member.filename, parts, member))
        if len(candidates) > limits.max_files:
            raise _Abort(_too_many(len(candidates), limits, source))
        kept, collided = _refuse_collisions(candidates)
        problems += collided
        declared = sum(member.file_size for _name, _parts, member in kept)
        if declared > limits.max_bytes:
            raise _Abort(_too_big(declared, limits, source, "declares"))
        writer = _Writer(root, limits, info)
        for name, parts, member in kept:
            try:
                with archive.open(member) as stream:
                    problem = writer.write(name, parts, stream.read, member.file_size)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError) as exc:
                problem = _refuse(name, f"cannot be extracted ({exc})", "an intact .zip; ask the CB to send it again")
            if problem:
                problems.append(problem)


def _copy_folder(src: Path, root: Path, limits: Limits, info: SubmissionInfo, problems: list[Problem]) -> None:
    source = info.source
    files: list[tuple[str, list[str], Path]] = []
    declared = 0

    def unreadable(exc: OSError) -> None:
        try:
            rel = Path(exc.filename).relative_to(src).as_posix()
        except (TypeError, ValueError):
            rel = source
        problems.append(Problem(shown(rel), None, "", f"cannot read this folder: {exc.strerror}", "a readable folder"))

    for dirpath, dirnames, filenames in os.walk(src, followlinks=False, onerror=unreadable):
        here = Path(dirpath)
        dirnames.sort()
        for name in list(dirnames):
            if os.path.islink(here / name):
                dirnames.remove(name)
                rel = (here / name).relative_to(src).as_posix()
                problems.append(_refuse(rel, "symbolic link to a folder; links in a submission are never followed, "
                                        "since one can point at files outside it"))
        for name in sorted(filenames):
            found = _folder_file(src, here / name, info, problems)
            if found is None:
                continue
            files.append(found[:3])
            declared += found[3]
            if len(files) > limits.max_files:
                raise _Abort(_too_many(len(files), limits, source))
            if declared > limits.max_bytes:
                raise _Abort(_too_big(declared, limits, source, "holds more than"))
    # Names that collide once case is ignored exist only on case-sensitive file systems;
    # refusing them keeps the result independent of where the AB unpacked the submission.
    kept, collided = _refuse_collisions(files)
    problems += collided
    writer = _Writer(root, limits, info)
    for rel, parts, path in kept:
        problem = _copy_file(rel, parts, path, writer)
        if problem:
            problems.append(problem)


def _folder_file(src: Path, path: Path, info: SubmissionInfo, problems: list[Problem]):
    """(relative name, its parts, path, size) of a regular file of the folder to copy; None
    when it is refused (said in problems) or ignored (noted in info)."""
    rel = path.relative_to(src).as_posix()
    parts, why = _name_parts(rel)
    if why:
        problems.append(_refuse(rel, why))
        return None
    try:
        st = os.lstat(path)
    except OSError as exc:
        problems.append(_refuse(rel, f"cannot be read: {exc.strerror}"))
        return None
    if stat.S_ISLNK(st.st_mode):
        problems.append(_refuse(rel, "symbolic link; links in a submission are never followed, since one "
                                "can point at files outside it"))
        return None
    if not stat.S_ISREG(st.st_mode):
        problems.append(_refuse(rel, "device or special file (FIFO, socket, device node); only regular "
                                "files hold records, and reading a FIFO can hang"))
        return None
    reason = _ignore_reason(parts)
    if reason:
        info.ignored.append({"path": shown(rel), "reason": reason})
        return None
    return rel, parts, path, st.st_size


def _copy_file(rel: str, parts: list[str], path: Path, writer: _Writer) -> Problem | None:
    try:
        # O_NOFOLLOW + fstat: the file is re-checked as opened, so swapping it for a link or
        # a FIFO after the walk gains nothing; O_NONBLOCK keeps a FIFO from hanging the open.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return _refuse(rel, f"cannot be read: {exc.strerror}")
    with os.fdopen(fd, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            return _refuse(rel, "changed into a special file while being read")
        try:
            return writer.write(rel, parts, stream.read, None)
        except OSError as exc:
            return _refuse(rel, f"cannot be copied: {exc.strerror or exc}")


def open_submission(path, limits: Limits | None = None, *, tmp_root=None) -> Opened:
    """Open SUBMISSION (a folder or a .zip) into a fresh private temporary folder.

    Returns `Opened`, which unpacks as `(folder, problems, cleanup)`: the folder to read (None
    when the submission is refused as a whole), every refusal as a located Problem, and the
    function that removes the temporary folder (call it always, e.g. in `finally`).
    `tmp_root` chooses where the temporary folder is created (default: the system's)."""
    limits = limits or Limits()
    path = Path(path)
    source = str(path)
    kind = "folder" if path.is_dir() else "zip" if path.is_file() and zipfile.is_zipfile(path) else "unknown"
    info = SubmissionInfo(source, kind, limits)
    root = Path(tempfile.mkdtemp(prefix="cbcheck-prescreen-", dir=tmp_root))   # mkdtemp: mode 0700

    def cleanup() -> None:
        # Ctrl-C or SIGTERM (which cbcheck turns into an exception) would stop the removal half
        # way and leave part of the untrusted copy behind; they wait the moment it takes.
        with stop_signals_held():
            shutil.rmtree(root, ignore_errors=True)

    problems: list[Problem] = []
    try:
        if kind == "unknown":
            what = "no such file or folder" if not path.exists() else "neither a folder nor a zip archive"
            raise _Abort(Problem(source, None, "", f"refused: {what}",
                                 "the folder or the .zip the CB sent"))
        (_copy_folder if kind == "folder" else _open_zip)(path, root, limits, info, problems)
    except _Abort as stop:
        # Refusals found before the limit was hit are kept: every problem is listed at once.
        cleanup()
        info.files = info.bytes = 0
        info.refused = sort_problems(problems + [stop.problem])
        return Opened(None, info.refused, cleanup, info)
    except BaseException:
        cleanup()
        raise
    problems = sort_problems(problems)
    info.refused = problems
    return Opened(root, problems, cleanup, info)
