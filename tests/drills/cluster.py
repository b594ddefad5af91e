"""A throwaway PostgreSQL cluster for the fault drills: started, stopped and frozen at will.

The drills stop and freeze their database, so they never use the shared
server on 5432: each run makes a cluster of its own with ``initdb`` on a free
port, in a temporary folder, and deletes it afterwards. ``initdb`` refuses to
run as root, so as root the server's commands run as the ``postgres`` user.
Freezing sends SIGSTOP to every process of the cluster (the postmaster first,
so it forks nothing new, then each backend, each a process of its own);
thawing sends SIGCONT the other way round.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        on_path = shutil.which("initdb")
        if on_path is None:
            raise RuntimeError("PostgreSQL's initdb is not installed (Debian: postgresql)")
        return Path(on_path).parent
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThrowawayPostgres:
    """``with ThrowawayPostgres() as cluster:`` ... ``cluster.url``; deleted on exit."""

    def __init__(self, database: str = "responder") -> None:
        self.bin = _binaries()
        self.port = _free_port()
        self.database = database
        self.folder = Path(tempfile.mkdtemp(prefix="responder-drill-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        self._as_postgres = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    # --- life cycle ----------------------------------------------------------------

    def __enter__(self) -> ThrowawayPostgres:
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.database)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.thaw()
            self._run("pg_ctl", "-D", str(self.data), "stop", "-m", "immediate", "-w", check=False)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=100"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "start", "-w")

    def stop(self) -> None:
        """A fast shutdown: every connection is cut, as when a managed database restarts."""
        self._run("pg_ctl", "-D", str(self.data), "stop", "-m", "fast", "-w")

    def freeze(self) -> None:
        postmaster, backends = self._processes()
        os.kill(postmaster, signal.SIGSTOP)
        for pid in backends:
            _signal(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        try:
            postmaster, backends = self._processes()
        except FileNotFoundError:
            return  # not running
        for pid in backends:
            _signal(pid, signal.SIGCONT)
        _signal(postmaster, signal.SIGCONT)

    # --- helpers ----------------------------------------------------------------------

    def _processes(self) -> tuple[int, list[int]]:
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                children.append(int(Path(stat).parent.name))
        return postmaster, children

    def _run(self, command: str, *args: str, check: bool = True) -> None:
        argv = [str(self.bin / command), *args]
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(
                f"{command} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
            )


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
