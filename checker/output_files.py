"""Every file cbcheck writes (reports, imported records, exported workbooks) goes through here.

Two promises. Before any work, `target_problems` checks that each output can be written (its
folder exists and takes a new file, the file is not read-only, no two outputs are the same
file), so a run never evaluates for minutes and then fails on its last step. While writing,
`write_files` stages every file as a temporary file in its own folder (written, flushed,
fsynced) and only when all of them are staged renames them over their targets: a full disk, a
kill or an error leaves each previous file intact and never a half set of new ones.

A target that exists and is not a regular file (/dev/stdout, /dev/null, a FIFO) has no
previous content to protect and cannot be renamed over; it is written in place.
"""
from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path

from checker.errors import Problem, ProblemsFound
from checker.process_guard import stop_signals_held

CHUNK = 1024 * 1024


class OutputError(ProblemsFound):
    """An output could not be written; `.problems` says which and what to do."""


def _problem(path: Path, message: str, expected: str) -> Problem:
    return Problem(str(path), None, "", message, expected)


def _folder_of(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def _probe_folder(folder: Path) -> str | None:
    """Why a new file cannot be created in `folder`, or None. Creating one is the only sure
    test: permissions, a read-only mount, ACLs and root all answer it truthfully."""
    try:
        fd, name = _create_temp(folder, "probe")
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    os.unlink(name)
    return None


def _target_problem(path: Path, option: str) -> Problem | None:
    try:
        return _file_target_problem(path, option)
    except OSError as exc:          # e.g. a folder on the way that may not be searched
        return _problem(path, f"cannot be checked ({exc.strerror or exc})", f"a path you may write to for {option}")


def _file_target_problem(path: Path, option: str) -> Problem | None:
    folder = _folder_of(path)
    if not folder.exists():
        return _problem(path, f"the folder {folder} does not exist",
                        f"an existing folder: create it (mkdir -p {folder}) or give {option} another path")
    if not folder.is_dir():
        return _problem(path, f"{folder} is not a folder", f"a file in an existing folder for {option}")
    if path.is_dir():
        return _problem(path, "is a folder", f"a file name for {option}")
    if path.exists() and not stat.S_ISREG(path.stat().st_mode):
        return None if os.access(path, os.W_OK) else _problem(path, "cannot be written", "a file you may write to")
    if path.exists() and not os.access(path, os.W_OK):
        return _problem(path, "the file is read-only", f"make it writable (chmod u+w) or give {option} another file")
    why = _probe_folder(folder)
    if why:
        return _problem(path, f"cannot create a file in {folder} ({why})",
                        f"a folder you may write to with free space, or another path for {option}")
    return None


def target_problems(targets: list[tuple[Path, str]]) -> list[Problem]:
    """One problem per output that cannot be written; `targets` are (path, the option that
    names it, for the message). Two options naming the same file is a problem too: the
    second would overwrite the first."""
    problems, seen = [], {}
    for path, option in targets:
        path = Path(path)
        problem = _target_problem(path, option)
        key = os.path.realpath(path)
        if problem is None and key in seen:
            problem = _problem(path, f"named by both {seen[key]} and {option}", "a different file for each output")
        if problem:
            problems.append(problem)
        seen.setdefault(key, option)
    return problems


def folder_problem(folder: Path, why_empty: str) -> Problem | None:
    """Why `folder` cannot receive a new set of files: it must be new or empty (`why_empty`
    says what old files in it would do), and its nearest existing ancestor writable."""
    folder = Path(folder)
    try:
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            return _problem(folder, f"exists and is not an empty folder; {why_empty}", "a new or empty folder")
    except OSError as exc:
        return _problem(folder, f"cannot be read ({exc.strerror or exc})", "a new or empty folder you may write to")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    why = _probe_folder(existing) if existing.is_dir() else f"{existing} is not a folder"
    if why:
        return _problem(folder, f"cannot create files under {existing} ({why})",
                        "a folder you may write to with free space, or another path")
    return None


def _create_temp(folder: Path, role: str) -> tuple[int, str]:
    """A new file beside the target: same folder, so the rename never crosses file systems.
    Mode 0666 less the umask, like any file the user creates."""
    while True:
        name = os.path.join(folder, f".cbcheck-{role}-{secrets.token_hex(6)}.tmp")
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), name
        except FileExistsError:
            continue


def _write_chunk(fd: int, chunk: memoryview) -> int:
    return os.write(fd, chunk)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[_write_chunk(fd, view[:CHUNK]):]


def _stage(path: Path, data: bytes) -> str:
    fd, temp = _create_temp(_folder_of(path), "write")
    try:
        if path.exists():
            os.fchmod(fd, stat.S_IMODE(path.stat().st_mode))   # a replaced report keeps its mode
        _write_all(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(temp)
        raise
    os.close(fd)
    return temp


def _sync_folder(folder: Path) -> None:
    # The rename is durable once the folder is synced; some file systems cannot, and then the
    # rename is still atomic, only not yet on disk.
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _make_parents(paths, made: list[Path]) -> None:
    for folder in sorted({_folder_of(p) for p in paths}, key=lambda f: len(f.parts)):
        missing = [f for f in (folder, *folder.parents) if not f.exists()]
        for f in reversed(missing):
            f.mkdir()
            made.append(f)


def _remove_made(made: list[Path]) -> None:
    for folder in reversed(made):
        try:
            folder.rmdir()
        except OSError:
            pass


def write_files(files: list[tuple[Path, bytes | str]], *, make_parents: bool = False) -> None:
    """Write every (path, content) all-or-nothing; text is written as UTF-8. Raises
    OutputError naming the file that failed; then no target has changed (and folders made
    for them with `make_parents` are removed again)."""
    files = [(Path(p), d.encode("utf-8") if isinstance(d, str) else d) for p, d in files]
    staged, in_place, made = [], [], []
    current = None
    try:
        if make_parents:
            _make_parents([p for p, _ in files], made)
        for current, data in files:
            if current.exists() and not stat.S_ISREG(current.stat().st_mode):
                in_place.append((current, data))
            else:
                staged.append((_stage(current, data), current))
    except BaseException as exc:
        for temp, _path in staged:
            os.unlink(temp)
        _remove_made(made)
        if isinstance(exc, OSError):
            raise _output_error(current, exc) from exc
        raise
    _commit(staged)
    for current, data in in_place:
        try:
            with open(current, "wb") as out:
                out.write(data)
        except OSError as exc:
            raise _output_error(current, exc) from exc


def _output_error(path: Path | None, exc: OSError) -> OutputError:
    what = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else exc.strerror or str(exc)
    return OutputError([_problem(path or Path(exc.filename or "?"), f"cannot be written ({what}); the previous "
                                 "file, if any, is unchanged", "free disk space and a folder you may write to, "
                                 "then run again")])


def _commit(staged: list[tuple[str, Path]]) -> None:
    # A rename within a folder needs no space and cannot half happen; holding back Ctrl-C and
    # SIGTERM for these few system calls keeps a stop from leaving some targets new, others old.
    with stop_signals_held():
        for n, (temp, path) in enumerate(staged):
            try:
                os.replace(temp, path)
            except OSError as exc:
                for later, _path in staged[n:]:
                    os.unlink(later)
                raise _output_error(path, exc) from exc
    for folder in sorted({_folder_of(p) for _t, p in staged}):
        _sync_folder(folder)


def write_file(path: Path, data: bytes | str) -> None:
    write_files([(path, data)])
