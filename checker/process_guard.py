"""How a cbcheck command ends when it does not end normally.

Exit codes are a contract a nightly job reads: 0 clean, 1 findings, 2 usage, input or engine
errors. A Python traceback ends with 1, which that job would read as findings, so nothing may
leave cbcheck that way:

  3    an internal error, a bug in cbcheck: one line on stderr says so and names the file that
       holds the full traceback (cbcheck-crash-*.txt in the temporary folder, $TMPDIR or /tmp);
  130  stopped by SIGINT (Ctrl-C);
  143  stopped by SIGTERM;
  141  stdout was closed early (`cbcheck ... | head`), the shell's own code for SIGPIPE.

SIGTERM's default action ends the process on the spot; here it raises Terminated instead, so
`finally` blocks run as they do for Ctrl-C: prescreen removes its private copy of the
untrusted submission, output files being staged are removed, worker processes are stopped.
"""
from __future__ import annotations

import ctypes
import os
import platform
import signal
import sys
import tempfile
import traceback
from contextlib import contextmanager

INTERNAL_ERROR = 3
INTERRUPTED = 130          # 128 + SIGINT, as shells report it
TERMINATED = 143           # 128 + SIGTERM
BROKEN_PIPE = 141          # 128 + SIGPIPE
CRASH_PREFIX = "cbcheck-crash-"
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class Terminated(BaseException):
    """SIGTERM arrived. A BaseException, like KeyboardInterrupt, so `except Exception` code on
    the way up does not swallow it."""


@contextmanager
def stop_signals_held():
    """Ctrl-C and SIGTERM wait until the body is done: for the few system calls that must not
    be cut half way (renaming a set of output files, removing a private temporary folder).
    A signal that arrived meanwhile is delivered at the end."""
    mask = getattr(signal, "pthread_sigmask", None)
    held = mask(signal.SIG_BLOCK, STOP_SIGNALS) if mask else None
    try:
        yield
    finally:
        if mask:
            mask(signal.SIG_SETMASK, held)


def _on_sigterm_for(main_pid: int):
    def on_sigterm(signum, _frame):
        if os.getpid() != main_pid:
            # A forked worker inherited this handler: end as the signal would have ended it.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated()
    return on_sigterm


PR_SET_PDEATHSIG = 1


def start_forked(ctx, target, work, siblings: list) -> tuple:
    """(the main process's end of its pipe, the process) of a forked worker process running
    target(its end of the pipe, work, this process's id, the main process's ends of its own
    and its `siblings`' pipes): the worker's first act is die_with_parent with the last two."""
    conn, child = ctx.Pipe()
    process = ctx.Process(target=target, args=(child, work, os.getpid(), [conn, *siblings]), daemon=True)
    process.start()
    child.close()
    return conn, process


def die_with_parent(parent_pid: int, inherited: list) -> None:
    """In a forked worker process: close the `inherited` pipe ends (the main process's), so
    that a read ends with EOF when the main process is gone, and ask the kernel (Linux's
    PR_SET_PDEATHSIG) to kill this process when its parent dies, so a worker never outlives a
    killed run; exits at once when the parent died before the request took effect."""
    for conn in inherited:
        conn.close()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)


def _say(line: str) -> None:
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass          # stderr itself is gone; the exit code still tells


def write_crash_report(exc: BaseException, version: str) -> str | None:
    """The full traceback in a new file of the temporary folder; its path, or None when even
    that cannot be written."""
    try:
        fd, path = tempfile.mkstemp(prefix=CRASH_PREFIX, suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as out:
            out.write(f"cbcheck {version} internal error\ncommand: {sys.argv!r}\n"
                      f"python {sys.version.split()[0]} on {platform.platform()}\n\n")
            out.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        return path
    except OSError:
        return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    text = text[:300] + "..." if len(text) > 300 else text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _internal_error(exc: Exception, version: str) -> None:
    path = write_crash_report(exc, version)
    where = (f"the full traceback is in {path}; please report it with that file" if path else
             "the traceback could not be saved to a file and follows")
    _say(f"cbcheck: internal error, a bug in cbcheck rather than a problem with your input ({_one_line(exc)}); "
         f"{where} (exit {INTERNAL_ERROR})")
    if path is None:
        _say("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


def _silence_stdout() -> None:
    # Python flushes stdout at exit and would print a second BrokenPipeError there.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


@contextmanager
def guarded(version: str, passthrough: tuple = ()):
    """Run the body so that it ends with a documented exit code whatever happens; exceptions
    in `passthrough` (the command-line framework's own exits) go on unchanged."""
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm_for(os.getpid()))
    except ValueError:      # not the main thread: signals are the main thread's business
        previous = None
    try:
        yield
    except passthrough:
        raise
    except KeyboardInterrupt:
        _say("cbcheck: stopped by SIGINT (Ctrl-C) before the run finished")
        sys.exit(INTERRUPTED)
    except Terminated:
        _say("cbcheck: stopped by SIGTERM before the run finished")
        sys.exit(TERMINATED)
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(BROKEN_PIPE)
    except Exception as exc:
        try:
            _internal_error(exc, version)
        finally:        # even if reporting fails too (out of memory): the code, not a traceback
            sys.exit(INTERNAL_ERROR)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
