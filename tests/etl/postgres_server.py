"""A throwaway PostgreSQL server for tests: initdb into a temporary directory, pg_ctl start on a
free 127.0.0.1 port (and a private unix socket directory), stop and delete afterwards.

The binaries come from ``/usr/lib/postgresql/<version>/bin`` or ``PATH`` (Debian's
``postgresql`` package; ``.ci/run`` installs it). PostgreSQL refuses to run as root, so as root
the server runs as the ``postgres`` user (made by that package; a ``leadflow-pg`` system user is
made when there is none) through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs


@attrs.frozen
class Server:
    host: str
    port: int
    user: str

    @property
    def conninfo(self) -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname=postgres"


def find_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists() and Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    return None


def _server_user() -> pwd.struct_passwd:
    """The user the server runs as under root: Debian's ``postgres``, else one made for it."""
    for name in ("postgres", "leadflow-pg"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "leadflow-pg"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return pwd.getpwnam("leadflow-pg")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def running_server(bin_dir: Path) -> Iterator[Server]:
    """Start a server; yield how to reach it; stop it and remove its files."""
    root = Path(tempfile.mkdtemp(prefix="leadflow-pg-"))
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    sockets.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        owner = _server_user()
        for path in (root, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        prefix = ["runuser", "-u", owner.pw_name, "--"]
    port = _free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--no-locale")  # fmt: skip
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w",
            "-t", "60", "start")  # fmt: skip
        try:
            yield Server(host="127.0.0.1", port=port, user="postgres")
        finally:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    except subprocess.CalledProcessError as exc:
        detail = log.read_text() if log.exists() else ""
        raise RuntimeError(
            f"{exc.cmd} failed: {exc.stderr.decode(errors='replace')}\n{detail}"
        ) from exc
    finally:
        shutil.rmtree(root, ignore_errors=True)
