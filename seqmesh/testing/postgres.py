"""A real PostgreSQL server for tests: `initdb` into a fresh directory, `postgres` on a free
loopback port, a database per test, everything removed at the end.

PostgreSQL refuses to run as root; as root the server runs as the unprivileged user
`seqmesh-pg` (created with `useradd` when missing), otherwise as the current user. The
binaries are Debian's (`postgresql` package: `/usr/lib/postgresql/NN/bin`, the newest) or
those in `SEQMESH_PG_BIN`. The server dies with the test process (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from seqmesh.common.children import die_with_parent
from seqmesh.runtime.launcher.ready import free_port

PG_USER = "seqmesh-pg"  # the OS user the server runs as when we are root
DB_SUPERUSER = "seqmesh"  # the database role tests connect as (trust authentication, loopback only)
_SERVER_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "TZ": "UTC"}


def pg_bin() -> Path:
    """The directory of initdb/postgres: SEQMESH_PG_BIN, else Debian's newest."""
    if env := os.environ.get("SEQMESH_PG_BIN"):
        return Path(env)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb "
                           "(apt-get install postgresql; hack/test.sh does), or set SEQMESH_PG_BIN")
    return found[-1].parent


def _server_user() -> pwd.struct_passwd | None:
    """The account to run the server as (None: ourselves, we are not root)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", PG_USER], check=True, capture_output=True)
        return pwd.getpwnam(PG_USER)


class PostgresServer:
    def __init__(self, settings: dict[str, str] | None = None, timeout: float = 60.0) -> None:
        self.bin = pg_bin()
        self.user = _server_user()
        # Not under pytest's tmp dirs: those are root's 0700 and the server user could not enter them.
        self.dir = Path(tempfile.mkdtemp(prefix="seqmesh-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self._names = itertools.count()
        self.proc: subprocess.Popen[bytes] | None = None
        self.settings = settings or {}
        self.timeout = timeout
        try:
            self._initdb()
            self.start()
        except BaseException:
            self.stop()
            raise

    @property
    def _uid(self) -> int | None:
        return None if self.user is None else self.user.pw_uid

    @property
    def _gid(self) -> int | None:
        return None if self.user is None else self.user.pw_gid

    @property
    def _groups(self) -> list[int] | None:
        return None if self.user is None else []  # root's supplementary groups are not the server's

    def _initdb(self) -> None:
        if self.user is not None:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        init = subprocess.run([str(self.bin / "initdb"), "-D", str(self.data), "-U", DB_SUPERUSER, "--auth=trust",
                               "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                              capture_output=True, text=True, env=_SERVER_ENV, cwd=self.dir, user=self._uid,
                              group=self._gid, extra_groups=self._groups)
        if init.returncode:
            raise RuntimeError(f"initdb failed ({init.returncode}):\n{init.stdout}\n{init.stderr}")

    def start(self) -> None:
        """Start the server (again, after `stop(keep=True)`: same data, same port)."""
        args = [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1",
                "-k", str(self.dir), "-c", "max_connections=100", "-c", "shared_buffers=64MB"]
        for name, value in self.settings.items():
            args += ["-c", f"{name}={value}"]
        self.log = self.dir / "postgres.log"
        with open(self.log, "ab") as out:
            # The server's own process (no pg_ctl daemon in between) so it dies with us.
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=_SERVER_ENV, cwd=self.dir,
                                         preexec_fn=die_with_parent(), user=self._uid, group=self._gid,
                                         extra_groups=self._groups)
        timeout = self.timeout
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited ({self.proc.returncode}):\n{self.log.read_text()[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"postgres not ready in {timeout}s:\n{self.log.read_text()[-4000:]}")
            time.sleep(0.05)

    def _ready(self) -> bool:
        return subprocess.run([str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                              check=False).returncode == 0

    def _psql(self, sql: str) -> None:
        done = subprocess.run([str(self.bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                               "-p", str(self.port), "-U", DB_SUPERUSER, "-d", "postgres", "-c", sql],
                              capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"psql {sql!r} failed: {done.stderr.strip()}")

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{DB_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its name."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        self._psql(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self, timeout: float = 30.0, keep: bool = False) -> None:
        """Fast shutdown (SIGINT: clients disconnected, a clean checkpoint); then every file is
        removed, unless `keep` (to `start` it again)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)
