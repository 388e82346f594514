"""Diagram code run in separate processes that cannot reach the engine.

A pool of sandbox processes (reused; one per request in flight, ``size`` kept idle) runs
the scripts and conditions of diagrams. A sandbox process

- starts from a clean environment: no ``SANSHE_*`` variables (no secret key, worker key or
  database URL), no inherited file descriptors (no database connection), Python in
  isolated mode; it imports only :mod:`engine.core.restricted`;
- runs under operating-system limits: address space (``RLIMIT_AS``: a huge allocation
  fails with ``MemoryError``), CPU time (``RLIMIT_CPU``, set afresh for each request: a
  runaway C call is killed by the kernel), no core files, no file writes;
- exchanges JSON only (tagged for dates, exact numbers, sets and tuples), framed by
  length over its stdin and stdout: nothing of the sandbox is ever unpickled or called;
- is killed by the caller once a request has run ``timeout + WALL_GRACE`` seconds, so the
  engine's transaction never waits longer on a runaway script.

The diagram code is still checked before it is sent (the AST check is the first line) and
in the sandbox, and still runs with the restricted builtins and the per-opcode deadline,
so an ordinary endless loop is stopped without losing the process.
"""
from __future__ import annotations

import atexit
import json
import math
import os
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeAlias, cast

from engine.core.restricted import (
    SAFE_BUILTINS, ScriptLimitError, ScriptRejected, ScriptTimeout, compile_restricted, run_with_deadline,
)

# A request that a C call keeps busy is killed this long after its time limit.
WALL_GRACE = 0.25
# Largest request or answer, in bytes of JSON: task data beyond it is refused.
MAX_FRAME = 32 * 1024 * 1024
_HEADER = struct.Struct(">I")
_TAG = "__sanshe_value__"
_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from engine.core.sandbox import serve; serve(int(sys.argv[2]))"
# What a sandbox process sees of the environment: nothing of Sanshe's.
CLEAN_ENVIRONMENT = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


class ScriptError(RuntimeError):
    """Diagram code raised an error (its type and message are in the text)."""


class SandboxError(RuntimeError):
    """The sandbox process could not run the code (it died or answered nonsense)."""


# Exceptions diagram code may raise, re-raised under the same type for SpiffWorkflow's
# messages ("did you mean ..."); anything else becomes a ScriptError naming its type.
_RERAISED: dict[str, type[Exception]] = {
    cls.__name__: cls for cls in (
        NameError, KeyError, TypeError, ValueError, IndexError, LookupError, AttributeError, ArithmeticError,
        ZeroDivisionError, OverflowError, RecursionError, UnboundLocalError, AssertionError,
        ScriptLimitError, ScriptRejected, ScriptTimeout)
}


# -- data across the boundary -------------------------------------------------------------

# What ``json`` reads and writes: the form data takes across the boundary.
JSON: TypeAlias = "None | bool | int | float | str | list[JSON] | dict[str, JSON]"


def encode(value: object) -> JSON:
    """``value`` as JSON-able data; dates, exact numbers, sets, tuples and dicts with other
    than string keys are tagged. Raises TypeError for anything that is not data."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {_TAG: "float", "v": repr(value)}
    if isinstance(value, dict):
        # isinstance leaves the key and value types open; any object may be either.
        mapping = cast("dict[object, object]", value)
        if _TAG not in mapping and all(isinstance(k, str) for k in mapping):
            return {k: encode(v) for k, v in cast("dict[str, object]", mapping).items()}
        return {_TAG: "dict", "v": [[encode(k), encode(v)] for k, v in mapping.items()]}
    if isinstance(value, list):
        return [encode(v) for v in cast("list[object]", value)]
    if isinstance(value, tuple):
        return {_TAG: "tuple", "v": [encode(v) for v in cast("tuple[object, ...]", value)]}
    if isinstance(value, (set, frozenset)):
        members = cast("set[object] | frozenset[object]", value)
        return {_TAG: type(members).__name__, "v": [encode(v) for v in members]}
    if isinstance(value, datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, timedelta):
        return {_TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, (Decimal, Fraction)):
        return {_TAG: type(value).__name__, "v": str(value)}
    raise TypeError(f"a value of type {type(value).__name__} is not data")


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "float": float, "tuple": lambda v: tuple(decode(x) for x in v), "set": lambda v: {decode(x) for x in v},
    "frozenset": lambda v: frozenset(decode(x) for x in v), "datetime": datetime.fromisoformat,
    "date": date.fromisoformat, "timedelta": lambda v: timedelta(*v), "Decimal": Decimal, "Fraction": Fraction,
    "dict": lambda v: {decode(k): decode(x) for k, x in v},
}


def decode(value: JSON) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        kind = value.get(_TAG)
        if kind is None:
            return {k: decode(v) for k, v in value.items()}
        return _DECODERS[str(kind)](value["v"])
    return value


def _write_frame(fd: int, payload: bytes) -> None:
    data = _HEADER.pack(len(payload)) + payload
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes | None:
    chunks: list[bytes] = []
    left = size
    while left:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int, deadline: float | None = None) -> bytes | None:
    header = _read_exactly(fd, _HEADER.size, deadline)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise SandboxError(f"an answer of {size} bytes is larger than allowed")
    return _read_exactly(fd, size, deadline)


# -- inside the sandbox process -------------------------------------------------------------

def serve(memory_mb: int) -> None:
    """The sandbox process's loop: one request in, one answer out, until stdin closes."""
    import resource

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    answers = os.dup(1)
    os.dup2(2, 1)  # anything written to stdout goes to stderr, never into the answers
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    while True:
        request = _read_frame(0)
        if request is None:
            return
        recycle = False
        try:
            message = json.loads(request)
            timeout = float(message["timeout"])
            used = resource.getrusage(resource.RUSAGE_SELF)
            # The kernel kills the process (SIGXCPU) once this request used its time.
            soft = int(used.ru_utime + used.ru_stime + timeout) + 1
            resource.setrlimit(resource.RLIMIT_CPU, (soft, cpu_hard if cpu_hard != resource.RLIM_INFINITY
                                                     else resource.RLIM_INFINITY))
            answer = {"ok": True, **_run(message, timeout)}
        except MemoryError:
            answer, recycle = {"ok": False, "type": "ScriptLimitError",
                               "message": f"the script needed more than {memory_mb} MB and was stopped"}, True
        except ScriptTimeout as exc:
            answer, recycle = {"ok": False, "type": "ScriptTimeout", "message": str(exc)}, True
        except Exception as exc:  # the script's own error, handed back to the engine
            answer = {"ok": False, "type": type(exc).__name__, "message": str(exc)[:2000]}
        try:
            payload = json.dumps(answer, separators=(",", ":")).encode()
        except (TypeError, ValueError, MemoryError) as exc:
            payload, recycle = json.dumps({"ok": False, "type": "ScriptError", "message": str(exc)[:500]}).encode(), True
        if len(payload) > MAX_FRAME:
            payload = json.dumps({"ok": False, "type": "ScriptLimitError",
                                  "message": "the script's data is larger than allowed"}).encode()
        if recycle:
            payload = payload[:-1] + b',"recycle":true}'
        _write_frame(answers, payload)
        if recycle:  # after a limit was hit, start afresh rather than trust the process
            return


def _run(message: dict[str, Any], timeout: float) -> dict[str, Any]:
    context = decode(message["context"])
    if message["op"] == "eval":
        code = compile_restricted(message["code"], "eval")
        scope: dict[str, Any] = {**context, "__builtins__": SAFE_BUILTINS}
        return {"value": encode(run_with_deadline(lambda: eval(code, scope), scope, timeout))}
    code = compile_restricted(message["code"], "exec")
    context["__builtins__"] = SAFE_BUILTINS
    run_with_deadline(lambda: exec(code, context), context, timeout)
    drop = set(message.get("drop") or ())
    # As SpiffWorkflow does after a script: functions and the globals do not stay in task data.
    return {"context": encode({k: v for k, v in context.items()
                               if k != "__builtins__" and k not in drop and not callable(v)})}


# -- the engine's side ----------------------------------------------------------------------

class _Process:
    def __init__(self, memory_mb: int) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, _ROOT, str(memory_mb)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=CLEAN_ENVIRONMENT, cwd="/", close_fds=True,
            start_new_session=True)
        assert self.popen.stdin is not None and self.popen.stdout is not None
        self.stdin, self.stdout = self.popen.stdin.fileno(), self.popen.stdout.fileno()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def call(self, payload: bytes, wall_seconds: float) -> dict[str, Any] | None:
        """The answer, or None when the process died; TimeoutError past ``wall_seconds``."""
        try:
            _write_frame(self.stdin, payload)
            answer = _read_frame(self.stdout, time.monotonic() + wall_seconds)
        except (BrokenPipeError, ConnectionResetError):
            return None
        return None if answer is None else json.loads(answer)

    def close(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        for pipe in (self.popen.stdin, self.popen.stdout):
            if pipe is not None:
                pipe.close()
        try:
            self.popen.wait(timeout=2)
        except subprocess.TimeoutExpired:  # pragma: no cover - a SIGKILLed process always ends
            pass


class SandboxPool:
    """Sandbox processes for diagram code: reused, ``size`` kept idle, one more started
    whenever all are busy (a runaway script never makes another wait)."""

    def __init__(self, size: int = 2, memory_mb: int = 256) -> None:
        self.size, self.memory_mb = size, memory_mb
        self._idle: list[_Process] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        atexit.register(self.close)

    def run(self, op: str, code: str, context: dict[str, Any], timeout: float,
            drop: tuple[str, ...] = ()) -> Any:
        """Evaluate (``op="eval"``: the value) or execute (``"exec"``: the new context)
        ``code`` over ``context`` in a sandbox process."""
        try:
            payload = json.dumps({"op": op, "code": code, "context": encode(context), "timeout": timeout,
                                  "drop": list(drop)}, separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            raise ScriptError(f"the task data cannot be handed to the script: {exc}") from exc
        if len(payload) > MAX_FRAME:
            raise ScriptLimitError("the task data is too large to hand to a script")
        process = self._take()
        try:
            answer = process.call(payload, timeout + WALL_GRACE)
        except TimeoutError:
            process.close()
            raise ScriptTimeout(f"script or condition ran longer than {timeout:g} s and was stopped") from None
        except BaseException:
            process.close()
            raise
        if answer is None:  # killed by the kernel (CPU or memory) or died
            process.close()
            raise ScriptTimeout(f"script or condition was stopped: it exceeded the sandbox's limits "
                                f"({timeout:g} s, {self.memory_mb} MB)")
        if answer.get("recycle"):  # it hit a limit and ends itself
            process.close()
        else:
            self._give_back(process)
        if not answer.get("ok"):
            kind, message = str(answer.get("type")), str(answer.get("message"))
            error = _RERAISED.get(kind)
            raise error(message) if error is not None else ScriptError(f"{kind}: {message}")
        return decode(answer["value"] if op == "eval" else answer["context"])

    def _take(self) -> _Process:
        with self._lock:
            if os.getpid() != self._pid:  # forked (a web worker): the parent's processes are not ours
                self._idle, self._pid = [], os.getpid()
            while self._idle:
                process = self._idle.pop()
                if process.popen.poll() is None:
                    return process
                process.close()
        return _Process(self.memory_mb)

    def _give_back(self, process: _Process) -> None:
        with self._lock:
            if len(self._idle) < self.size and os.getpid() == self._pid:
                self._idle.append(process)
                return
        process.close()

    def warm(self) -> None:
        """Start the idle processes now rather than at the first script."""
        started = [_Process(self.memory_mb) for _ in range(self.size)]
        for process in started:
            self._give_back(process)

    def close(self) -> None:
        """Stop every idle sandbox process."""
        with self._lock:
            idle, self._idle = self._idle, []
        if os.getpid() == self._pid:
            for process in idle:
                process.close()

    def idle_pids(self) -> list[int]:
        """The process ids of the idle sandbox processes (for tests and diagnostics)."""
        with self._lock:
            return [p.pid for p in self._idle]
