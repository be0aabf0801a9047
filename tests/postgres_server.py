"""A throwaway PostgreSQL server for the tests: a temp data dir, a free local port, stopped at the end.

PostgreSQL refuses to run as root, so when the tests run as root (CI containers) the server runs
as the `postgres` user (the distribution package creates it) through `runuser`. The binaries are
found on PATH or under /usr/lib/postgresql/<version>/bin (where Debian puts them).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

SERVER_USER = "postgres"


def find_binaries() -> Path | None:
    """The folder holding `initdb` and `pg_ctl`, or None when PostgreSQL is not installed."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One private cluster; `url(database)` names a database on it for SQLAlchemy."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.workdir = Path(tempfile.mkdtemp(prefix="lorairo-pg-"))
        self.data_dir = self.workdir / "data"
        self.port = _free_port()
        self.as_other_user = os.geteuid() == 0
        self.user = SERVER_USER if self.as_other_user else None

    def _run(self, *args: str) -> None:
        command = [str(self.binaries / args[0]), *args[1:]]
        if self.as_other_user:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        if self.as_other_user:
            shutil.chown(self.workdir, user=SERVER_USER)
        self._run(
            "initdb", "-D", str(self.data_dir), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"
        )
        options = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.workdir / "log"), "-o", options, "-w", "start"
        )

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        )

    def create_database(self, template: str | None = None) -> str:
        """A new empty (or template-copied) database; returns its name."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with self.admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_server() -> tuple[PostgresServer | None, str]:
    """A started server, or None and the reason none could be started."""
    binaries = find_binaries()
    if binaries is None:
        return None, "PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql)"
    server = PostgresServer(binaries)
    try:
        server.start()
    except (OSError, subprocess.SubprocessError, LookupError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        shutil.rmtree(server.workdir, ignore_errors=True)
        return None, f"cannot start PostgreSQL from {binaries}: {detail.strip()[:300]}"
    return server, ""
