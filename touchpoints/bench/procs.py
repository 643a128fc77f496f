"""Processes the bench starts (workers, writer, no-op Faust), their memory, and py-spy.

Every process started here is stopped by the same object that started it
(TERM, then KILL after a timeout); nothing else is touched.
"""

from __future__ import annotations

import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class Proc:
    """One child process with its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    started: float = field(default_factory=time.monotonic)
    peak_rss_mib: float | None = None
    cpu_s: float | None = None
    """CPU seconds used until :meth:`stop` (start-up included)."""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """Note its peak RSS, then TERM, wait, KILL if needed; returns the exit code."""
        self.peak_rss_mib = max_of(self.peak_rss_mib, peak_rss_mib(self.pid))
        self.cpu_s = cpu_seconds(self.pid) if self.alive() else self.cpu_s
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("process did not stop, killing it", extra={"name": self.name})
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def start(name: str, argv: list[str], env: dict[str, str], work_dir: Path) -> Proc:
    """Start ``python <argv>`` in ``work_dir`` with ``env`` added to this environment."""
    work_dir.mkdir(parents=True, exist_ok=True)
    log_path = work_dir / f"{name}.log"
    with log_path.open("ab") as out:
        popen = subprocess.Popen(
            [sys.executable, *argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=work_dir,
            env={**os.environ, **env},
        )
    return Proc(name, popen, log_path)


def status_kib(pid: int, key: str) -> int | None:
    """A ``/proc/<pid>/status`` memory field in KiB (VmRSS, VmHWM), None if gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(f"{key}:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the command name: state is field 3 of stat(5), utime 14 and stime 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(native_id: int) -> float | None:
    """User + system CPU time of one thread of this process (its ``native_id``), None if gone."""
    try:
        with open(f"/proc/self/task/{native_id}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_cpu(procs: list[Proc]) -> dict[str, float]:
    """CPU seconds used so far by each live process, by name."""
    return {p.name: used for p in procs if (used := cpu_seconds(p.pid)) is not None}


def rss_mib(pid: int) -> float | None:
    kib = status_kib(pid, "VmRSS")
    return kib / 1024 if kib is not None else None


def peak_rss_mib(pid: int) -> float | None:
    kib = status_kib(pid, "VmHWM")
    return kib / 1024 if kib is not None else None


def own_peak_rss_mib() -> float:
    """This process's peak RSS (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def max_of(a: float | None, b: float | None) -> float | None:
    values = [v for v in (a, b) if v is not None]
    return max(values) if values else None


class MemorySampler:
    """Samples the RSS of some processes every ``interval`` s in a thread; keeps peaks."""

    def __init__(self, procs: list[Proc], interval: float = 1.0) -> None:
        self._procs = procs
        self._interval = interval
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self.series: dict[str, list[tuple[float, float]]] = {p.name: [] for p in procs}
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            elapsed = time.monotonic() - self._t0
            for proc in self._procs:
                rss = rss_mib(proc.pid)
                if rss is not None:
                    self.series[proc.name].append((round(elapsed, 1), round(rss, 1)))
                proc.peak_rss_mib = max_of(proc.peak_rss_mib, peak_rss_mib(proc.pid))


class Profiler:
    """``py-spy record`` attached to a running process until :meth:`stop` (raw stacks)."""

    def __init__(self, target: Proc, out: Path, rate: int = 100) -> None:
        self.out = out
        self._popen: subprocess.Popen[bytes] | None = None
        exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(exe).exists():
            log.warning("py-spy not found; no profile", extra={"target": target.name})
            return
        self._log = out.with_suffix(".py-spy.log")
        with self._log.open("wb") as sink:
            self._popen = subprocess.Popen(
                [exe, "record", "--pid", str(target.pid), "--format", "raw",
                 "--rate", str(rate), "--nonblocking", "--output", str(out)],
                stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip

    def stop(self, timeout: float = 30.0) -> Path | None:
        """Stop sampling (SIGINT makes py-spy write its file); the profile path if written."""
        if self._popen is None:
            return None
        if self._popen.poll() is None:
            self._popen.send_signal(signal.SIGINT)
            try:
                self._popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
        if self.out.exists():
            return self.out
        log.warning("py-spy wrote no profile", extra={"log": str(self._log)})
        return None
