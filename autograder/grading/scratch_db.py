"""A throw-away PostgreSQL server for tests and benchmarks of the Dask engine (like ``Course.scratch``).

Debian's server (``apt-get install postgresql``: ``/usr/lib/postgresql/<version>/bin``): ``initdb`` in a
fresh folder, listening on a free port of 127.0.0.1 only (and a unix socket in that folder), trust
authentication for the one role ``grader``; stopped and deleted on exit. PostgreSQL refuses to run as
root, so as root the folder is handed to the ``postgres`` account and the server runs as it.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

FIX = "install Debian's PostgreSQL server: apt-get install postgresql (scripts/ensure-system-deps.sh does)"


def server_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with initdb and pg_ctl, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def problem() -> str:
    """Why a scratch server cannot run here ('' if it can)."""
    if server_bin() is None:
        return f"no PostgreSQL server ({FIX})"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser (util-linux) to start PostgreSQL as the postgres account"
    if os.geteuid() == 0:
        try:
            import pwd
            pwd.getpwnam("postgres")
        except KeyError:
            return f"no 'postgres' account to run the server as ({FIX})"
    return ""


@contextmanager
def scratch_postgres(databases: tuple[str, ...] = ("gradebook",)):
    """Start a server; yield ``{name: SQLAlchemy URL}`` for each of ``databases`` (created empty)."""
    why = problem()
    if why:
        raise RuntimeError(why)
    bindir = server_bin()
    folder = Path(tempfile.mkdtemp(prefix="scratch-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()

    def run(*cmd: str) -> None:
        proc = subprocess.run([*as_postgres, *cmd], capture_output=True, text=True, cwd=folder)
        if proc.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stdout}{proc.stderr}")

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "grader", "--no-sync")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(folder / "server.log"), "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        try:
            for name in databases:
                run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "grader", name)
            yield {name: f"postgresql://grader@127.0.0.1:{port}/{name}" for name in databases}
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
