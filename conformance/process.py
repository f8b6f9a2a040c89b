"""Parent-side handle on one framework's worker process.

Frameworks never share a process: torch, TensorFlow and JAX have crashed or
hung each other across releases. Settings that only work before import
(backend, log level, x64, thread caps) go into the worker's environment. A
crash or a hang inside the framework becomes an exception here, and the
worker is restarted for the next evaluation.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import tempfile
import time

from conformance.binding import Framework
from conformance.protocol import Hello, ProtocolError, RecipeRequest, Reply, WorkerState

# One thread per worker: on a 2-core machine, parallel workers with full
# thread pools run slower than serial ones.
THREAD_ENV = {
    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "PYTHONUNBUFFERED": "1",
}


class WorkerFailure(RuntimeError):
    """The worker crashed, hung past its time limit, or broke the protocol."""


class WorkerProcess:
    def __init__(self, framework: Framework, startup_timeout: float = 300.0,
                 extra_env: dict[str, str] | None = None):
        self.framework = framework
        self.extra_env = extra_env or {}
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen | None = None
        self._buffer = b""
        self._stderr = None

    def start(self) -> Hello:
        if not self.framework.reference:
            return Hello(WorkerState.BROKEN, reason=f"{self.framework.name} has no reference for its worker "
                         "to find it by (register it in the entry-point group loss_conformance.frameworks)")
        env = self.environment()
        self._stderr = tempfile.TemporaryFile()
        self._buffer = b""
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "conformance.worker", self.framework.reference],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env,
            # Out of the terminal's process group: Ctrl-C reaches the parent alone, which
            # stops cleanly and kills its workers, rather than racing their deaths.
            start_new_session=True)
        try:
            return Hello.from_json(self._read(self.startup_timeout))
        except (WorkerFailure, ProtocolError) as exc:
            self.close(failed=True)
            return Hello(WorkerState.BROKEN, reason=f"{self.framework.name} worker did not start: {exc}")

    def environment(self) -> dict[str, str]:
        """The worker's environment: this process's, with the settings that only work before import."""
        return {**os.environ, **THREAD_ENV, **self.framework.env, **self.extra_env}

    def execute(self, recipe: str, timeout: float) -> Reply:
        """Run one recipe; raises :class:`WorkerFailure` (and stops the worker) on crash or hang."""
        try:
            self._write((RecipeRequest(recipe).to_json() + "\n").encode())
            return Reply.from_json(self._read(timeout))
        except (BrokenPipeError, ConnectionError, WorkerFailure, ProtocolError) as exc:
            message = self._death() if isinstance(exc, (BrokenPipeError, ConnectionError)) else str(exc)
            self.close(failed=True)
            raise WorkerFailure(message) from None

    def _write(self, line: bytes) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(line)
        self._proc.stdin.flush()

    def _reply_fd(self) -> int:
        assert self._proc is not None and self._proc.stdout is not None
        return self._proc.stdout.fileno()

    def _read(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        fd = self._reply_fd()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerFailure(f"no answer within the {timeout:.3g} s time limit (hung?)")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise WorkerFailure(self._death())
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def _death(self) -> str:
        assert self._proc is not None
        code = self._proc.wait(timeout=10)
        how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
        return f"worker {how}; last stderr: {self._stderr_tail()}"

    def _stderr_tail(self, size: int = 600) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(0, self._stderr.tell() - size))
        return self._stderr.read().decode(errors="replace").strip()

    def close(self, failed: bool = False) -> None:
        """Stop the worker (``failed``: it crashed, hung or broke the protocol)."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def cpu_seconds(self) -> float | None:
        """The CPU time the worker has used so far (Linux: from /proc), or None."""
        return process_cpu_seconds(self._proc.pid) if self._proc is not None else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None


def process_cpu_seconds(pid: int) -> float | None:
    """The CPU time process ``pid`` has used so far (Linux: from /proc), or None."""
    try:
        fields = open(f"/proc/{pid}/stat", encoding="ascii").read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
