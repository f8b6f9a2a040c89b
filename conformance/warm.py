"""Warm workers: a framework started once answers one run after another.

One case on every framework costs mostly the frameworks' own start-up (importing
TensorFlow, JAX and torch is about 33 s of CPU on the full set), not the case. With
``--keep-warm MINUTES`` (or ``CONFORMANCE_KEEP_WARM=MINUTES``, which pytest and every
command read) a run leaves each framework's worker running, listening on a Unix socket in
a directory only its user may open, and the next run with the setting connects to it
instead of starting the framework again. A warm worker leaves after MINUTES without a
client; ``conformance workers --stop`` stops them at once.

A warm worker is the same worker - one framework per process, the same recipe guard -
with another transport. It is reused only while nothing that could change its answers
has changed: its slot is named by a digest of the Python, the working directory, the
worker's environment (the settings that only work before import), the installed
distributions and the source of this package and of the framework's adapter package.
A user's own adapter (``--adapter``), whose module may change between runs in ways no
digest here sees, always gets a fresh worker.

Each framework has up to :data:`MAX_SLOTS` slots, for runs with several lanes of it. A
run holds a slot's lock (``flock``) while it is connected, so two runs never share a
worker; a run that finds every slot taken starts an ordinary worker.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib.util
import json
import math
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from conformance.binding import Framework
from conformance.process import WorkerFailure, WorkerProcess, process_cpu_seconds
from conformance.protocol import Hello, ProtocolError

ENVIRONMENT = "CONFORMANCE_KEEP_WARM"
DIRECTORY_ENVIRONMENT = "CONFORMANCE_WARM_DIR"
MAX_SLOTS = 4
DEFAULT_MINUTES = 15.0  # --keep-warm without a number
# Seconds a warm worker found on its slot may take to say hello before it is replaced.
REUSE_TIMEOUT = 10.0
# A Unix socket's path must fit in sun_path (108 bytes on Linux, 104 on macOS).
_MAX_SOCKET_PATH = 100
# Variables that differ between two shells, or two tests, without changing any answer.
_VOLATILE = frozenset({"PWD", "OLDPWD", "SHLVL", "_", "COLUMNS", "LINES", "PS1", "PS2", "LS_COLORS",
                       "DISPLAY", "WINDOWID", "STY", "COLORTERM", ENVIRONMENT})
_VOLATILE_PREFIXES = ("PYTEST_", "TERM", "SSH_", "TMUX", "XDG_SESSION_", "HIST", "COV_CORE_")
_PEER = struct.Struct("3i")  # struct ucred: pid, uid, gid


def idle_seconds(minutes: float | None = None) -> float:
    """How long warm workers wait for the next run, in seconds (0: no warm workers): from
    ``minutes``, or from ``CONFORMANCE_KEEP_WARM`` when it is None."""
    if minutes is None:
        text = os.environ.get(ENVIRONMENT, "").strip()
        if not text:
            return 0.0
        try:
            return idle_seconds(float(text))
        except ValueError:
            raise ValueError(f"{ENVIRONMENT}={text!r} is not a number of minutes >= 0: set e.g. "
                             f"{ENVIRONMENT}=15, or unset it") from None
    if not math.isfinite(minutes) or minutes < 0:
        raise ValueError(f"keep warm for {minutes} minutes? Give a number of minutes >= 0")
    return minutes * 60.0


def supported() -> bool:
    """Warm workers need Unix sockets with peer credentials (Linux)."""
    return hasattr(socket, "AF_UNIX") and hasattr(socket, "SO_PEERCRED")


def directory() -> Path:
    """Where the slots live: ``CONFORMANCE_WARM_DIR``, else a private runtime or cache directory."""
    given = os.environ.get(DIRECTORY_ENVIRONMENT)
    if given:
        return Path(given)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "loss-conformance-warm"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "loss-conformance" / "warm"


def _private_directory() -> Path | None:
    """The slots' directory, created for this user alone; None when it is someone else's or
    others may enter it (then nothing is kept warm: a socket there could be anyone's)."""
    path = directory()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = path.stat()
    except OSError:
        return None
    if status.st_uid != os.getuid() or status.st_mode & 0o077:
        return None
    return path


@dataclass(frozen=True)
class Slot:
    """One warm worker's place: its socket, lock, description and log, side by side."""

    socket_path: Path

    @property
    def lock_path(self) -> Path:
        return self.socket_path.with_suffix(".lock")

    @property
    def info_path(self) -> Path:
        return self.socket_path.with_suffix(".json")

    @property
    def log_path(self) -> Path:
        return self.socket_path.with_suffix(".log")

    # -- the worker's side

    def bind(self) -> socket.socket:
        """A socket bound at the slot, only this user may connect to it (listen after fork)."""
        self.socket_path.unlink(missing_ok=True)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        before = os.umask(0o077)
        try:
            server.bind(str(self.socket_path))
        finally:
            os.umask(before)
        return server

    def describe(self, framework: str, idle: float) -> None:
        self.info_path.write_text(json.dumps({"framework": framework, "pid": os.getpid(),
                                              "started": time.time(), "idle": idle}), encoding="utf-8")

    def accept(self, server: socket.socket, idle: float) -> socket.socket | None:
        """The next client, or None once no client came for ``idle`` seconds and none is
        about to (the slot's lock is free): then the slot is cleared."""
        while True:
            server.settimeout(idle if idle > 0 else None)
            try:
                connection, _ = server.accept()
            except TimeoutError:
                if self.retire():
                    return None
                continue
            connection.settimeout(None)
            return connection

    def retire(self) -> bool:
        """Clear the slot, unless a run holds it (and is about to connect): True if cleared."""
        lock = self.try_lock()
        if lock is None:  # a run holds the slot and is about to connect
            return False
        try:
            self.clear()
        finally:
            os.close(lock)
        return True

    # -- the run's side

    def try_lock(self) -> int | None:
        """The slot's lock, held until the returned descriptor is closed; None if taken."""
        descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            return None
        return descriptor

    def connect(self) -> socket.socket | None:
        """A connection to the slot's worker, or None when none listens there."""
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(str(self.socket_path))
        except OSError:
            connection.close()
            return None
        if not same_user(connection):
            connection.close()
            return None
        return connection

    def clear(self) -> None:
        self.socket_path.unlink(missing_ok=True)
        self.info_path.unlink(missing_ok=True)


def peer(connection: socket.socket) -> tuple[int, int]:
    """The (pid, uid) of the process at the other end of a Unix socket."""
    pid, uid, _ = _PEER.unpack(connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEER.size))
    return pid, uid


def same_user(connection: socket.socket) -> bool:
    return peer(connection)[1] == os.getuid()


def slots(framework: Framework, environment: dict[str, str]) -> list[Slot]:
    """The framework's slots for a worker with this environment, or [] where it is never
    kept warm (a user's adapter, no private directory, a path too long for a socket)."""
    from conformance.user_adapter import ADAPTER_PREFIX

    if not supported() or not framework.reference or framework.reference.startswith(ADAPTER_PREFIX):
        return []
    base = _private_directory()
    if base is None:
        return []
    try:
        key = _key(framework, environment)
    except OSError:  # a source file vanishing as it is read (an editor's lock file): not warm this time
        return []
    found = [Slot(base / f"{framework.name}-{key}-{n}.sock") for n in range(MAX_SLOTS)]
    return found if len(str(found[-1].socket_path)) <= _MAX_SOCKET_PATH else []


def _key(framework: Framework, environment: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for part in (sys.executable, os.getcwd(), framework.reference, _source_digest(framework.worker_module),
                 _installed_digest()):
        digest.update(part.encode() + b"\0")
    for name in sorted(environment):
        if name not in _VOLATILE and not name.startswith(_VOLATILE_PREFIXES):
            digest.update(f"{name}={environment[name]}\0".encode())
    return digest.hexdigest()[:16]


@functools.cache
def _source_digest(worker_module: str) -> str:
    """The source this package and the worker module's packages run."""
    digest = hashlib.sha256()
    for root in source_roots(worker_module):
        for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def source_roots(worker_module: str) -> list[Path]:
    """This package's folder, and those of the worker module's package and top-level package
    (``conformance.adapters.torch``: ``adapters/``, installed as ``conformance.adapters``)."""
    roots = [Path(__file__).parent]
    names = {worker_module.partition(".")[0], worker_module.rpartition(".")[0] or worker_module}
    for name in sorted(names):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            roots += [Path(location) for location in spec.submodule_search_locations]
        elif spec is not None and spec.origin:
            roots.append(Path(spec.origin))
    return list(dict.fromkeys(roots))


@functools.cache
def _installed_digest() -> str:
    """Every installed distribution and version, as the import path lists them."""
    names: list[str] = []
    for entry in sys.path:
        try:
            names += [f"{entry}/{name}" for name in os.listdir(entry or ".") if name.endswith(".dist-info")]
        except OSError:
            pass
    return hashlib.sha256("\0".join(sorted(names)).encode()).hexdigest()


class WarmWorker(WorkerProcess):
    """A worker that stays after the run (see the module's docstring); where no slot is
    free it is an ordinary worker."""

    def __init__(self, framework: Framework, startup_timeout: float, extra_env: dict[str, str] | None,
                 idle: float):
        super().__init__(framework, startup_timeout, extra_env)
        self.idle = idle
        self._socket: socket.socket | None = None
        self._slot: Slot | None = None
        self._lock: int | None = None
        self._pid = 0
        self._pending = False

    def start(self) -> Hello:
        environment = self.environment()
        for slot in slots(self.framework, environment):
            try:
                self._lock = slot.try_lock()
            except OSError:
                continue
            if self._lock is None:
                continue
            self._slot = slot
            waiting = slot.connect()
            if waiting is not None:
                try:  # a warm worker answers at once; one stuck in a dead run's recipe does not
                    return self._hello(waiting, min(REUSE_TIMEOUT, self.startup_timeout))
                except (WorkerFailure, ProtocolError, OSError):
                    self.close(failed=True, keep_lock=True)  # gone since it last served: start another
            try:
                return self._hello(self._spawn(slot, environment), self.startup_timeout)
            except (WorkerFailure, ProtocolError, OSError, subprocess.SubprocessError):
                self.close(failed=True)
                break  # the warm transport failed, not the framework: an ordinary worker
        return super().start()

    def _hello(self, connection: socket.socket, timeout: float) -> Hello:
        assert self._slot is not None
        self._socket, self._buffer = connection, b""
        self._pid = peer(connection)[0]
        self._stderr = open(self._slot.log_path, "rb")
        return Hello.from_json(self._read(timeout))

    def _spawn(self, slot: Slot, environment: dict[str, str]) -> socket.socket:
        """Start a listening worker for the slot; it detaches once its socket is bound."""
        with open(slot.log_path, "wb") as log:
            launcher = subprocess.run(
                [sys.executable, "-m", "conformance.worker", "--listen", str(slot.socket_path), repr(self.idle),
                 self.framework.reference],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, env=environment,
                start_new_session=True, timeout=self.startup_timeout, check=False)
        if launcher.returncode != 0:
            raise WorkerFailure(f"the worker could not listen (status {launcher.returncode}): {self._log_tail(slot)}")
        deadline = time.monotonic() + 10.0
        while (connection := slot.connect()) is None:  # bound; listening a moment later
            if time.monotonic() > deadline:
                raise WorkerFailure(f"the worker bound its socket but never listened: {self._log_tail(slot)}")
            time.sleep(0.01)
        return connection

    @staticmethod
    def _log_tail(slot: Slot) -> str:
        try:
            return slot.log_path.read_bytes()[-600:].decode(errors="replace").strip()
        except OSError:
            return ""

    def execute(self, recipe: str, timeout: float):
        if self._socket is None:
            return super().execute(recipe, timeout)
        self._pending = True
        try:
            reply = super().execute(recipe, timeout)
        except BaseException:  # Ctrl-C in this thread: the worker is mid-recipe, kill it
            if self._socket is not None:
                self.close(failed=True)
            raise
        self._pending = False
        return reply

    def _write(self, line: bytes) -> None:
        if self._socket is None:
            return super()._write(line)
        self._socket.sendall(line)

    def _reply_fd(self) -> int:
        return self._socket.fileno() if self._socket is not None else super()._reply_fd()

    def _death(self) -> str:
        if self._socket is None:
            return super()._death()
        return f"the warm worker (pid {self._pid}) closed its connection; last stderr: {self._stderr_tail()}"

    def close(self, failed: bool = False, keep_lock: bool = False) -> None:
        """Hand the worker back to its slot; one that failed, or is still busy with a recipe
        (an interrupted run), is killed instead, so that the next run gets a fresh one."""
        # The run's thread and, on Ctrl-C, the main thread may both close: each works on the
        # socket it saw (closing a socket twice is harmless), never on one set to None under it.
        connection = self._socket
        if connection is not None:
            if (failed or self._pending) and _is_worker(self._pid):
                try:
                    os.kill(self._pid, signal.SIGKILL)
                except OSError:
                    pass
                self._pid = 0  # never again: the number may be another process's soon
                if self._slot is not None:
                    self._slot.clear()
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            if self._pending and not failed:
                # Another thread waits for the reply: it reads the end now and closes the rest
                # itself (closing the descriptor under it could hand it someone else's).
                return
            connection.close()
            self._socket, self._pending = None, False
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._lock is not None and not keep_lock:
            os.close(self._lock)
            self._lock, self._slot = None, None
        super().close(failed)

    def cpu_seconds(self) -> float | None:
        if self._socket is None:
            return super().cpu_seconds()
        return process_cpu_seconds(self._pid)  # the evaluator counts from when it connected

    @property
    def alive(self) -> bool:
        return self._socket is not None or super().alive


def _is_worker(pid: int) -> bool:
    """Whether ``pid`` is a worker of this suite: the process at the other end of a slot's
    socket is killed only then (never this process, nor whatever else listened there)."""
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        return b"conformance.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def worker(framework: Framework, startup_timeout: float, extra_env: dict[str, str] | None,
           idle: float) -> WorkerProcess:
    """The worker for a run: a warm one when ``idle`` > 0, an ordinary one otherwise."""
    if idle > 0:
        return WarmWorker(framework, startup_timeout, extra_env, idle)
    return WorkerProcess(framework, startup_timeout, extra_env)


@dataclass(frozen=True)
class WarmInfo:
    """A warm worker, as ``conformance workers`` lists it."""

    framework: str
    pid: int
    started: float
    idle: float
    slot: Slot

    @property
    def running(self) -> bool:
        return _is_worker(self.pid)


def warm_workers() -> list[WarmInfo]:
    """The warm workers of this user (all of them, whatever their digest)."""
    base = directory()
    found = []
    for info in sorted(base.glob("*.json")) if base.is_dir() else []:
        try:
            data = json.loads(info.read_text(encoding="utf-8"))
            found.append(WarmInfo(str(data["framework"]), int(data["pid"]), float(data["started"]),
                                  float(data["idle"]), Slot(info.with_suffix(".sock"))))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


def stop_all() -> list[WarmInfo]:
    """Stop every warm worker; returns those stopped."""
    stopped = []
    for info in warm_workers():
        if info.running:
            try:
                os.kill(info.pid, signal.SIGTERM)
                stopped.append(info)
            except OSError:
                pass
        info.slot.clear()
    return stopped
