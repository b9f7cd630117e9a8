"""A throwaway PostgreSQL cluster for the database tests: initdb + pg_ctl in a private temporary
folder, listening on 127.0.0.1 only, stopped and removed at the end.

The server binaries are found where the system's packages put them (Debian: `apt-get install
postgresql` puts them under /usr/lib/postgresql/<version>/bin, not on PATH), or on PATH.
PostgreSQL refuses to run as root, so when the tests run as root the cluster belongs to the
`postgres` user the package creates (else `nobody`), and its folder is handed to that user.
"""
from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ADMIN = "cbcheck_admin"
ADMIN_PASSWORD = "admin-secret-for-tests"
START_TIMEOUT_S = "60"


def find_server_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, newest version first; None when there is none."""
    found = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb") + glob.glob("/usr/pgsql-*/bin/initdb"):
        version = re.search(r"(\d+)", Path(initdb).parent.parent.name)
        found.append((int(version.group(1)) if version else 0, Path(initdb).parent))
    if found:
        return max(found)[1]
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    bin_dir: Path
    folder: Path
    port: int
    user: pwd.struct_passwd | None      # who runs the server (None: this process's user)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, role: str, database: str, password: str | None = None) -> str:
        secret = f":{password}" if password else ""
        return f"postgresql+psycopg://{role}{secret}@127.0.0.1:{self.port}/{database}"

    def run(self, *args: str) -> subprocess.CompletedProcess:
        kwargs = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(self.folder)}
        return subprocess.run([str(self.bin_dir / args[0]), *args[1:]], cwd=self.folder, env=env,
                              capture_output=True, text=True, timeout=120, **kwargs)

    def start(self) -> None:
        pwfile = self.folder / "pwfile"
        pwfile.write_text(ADMIN_PASSWORD + "\n", encoding="utf-8")
        self._own(pwfile)
        done = self.run("initdb", "-D", str(self.data), "-U", ADMIN, "--pwfile", str(pwfile), "--auth=scram-sha-256",
                        "-E", "UTF8", "--locale=C", "--no-sync")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip()}")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        done = self.run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "server.log"),
                        "-w", "-t", START_TIMEOUT_S, "start")
        if done.returncode != 0:
            log = (self.folder / "server.log").read_text(errors="replace") if (self.folder / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()} {log[-2000:]}")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def _own(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)


def server_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root, and neither a postgres nor a nobody user exists to run the server")


def new_cluster(bin_dir: Path) -> Cluster:
    folder = Path(tempfile.mkdtemp(prefix="cbcheck-pg-"))
    cluster = Cluster(bin_dir, folder, _free_port(), server_user())
    cluster._own(folder)
    return cluster
