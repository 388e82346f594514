"""Diagram code behind SpiffWorkflow's script environment: checked, restricted, sandboxed.

SpiffWorkflow evaluates conditions, scripts, timer expressions and service parameters
with plain ``eval``/``exec``; diagrams are uploaded by administrators, so that would let
a diagram run anything on the server. Here every piece of diagram code is first checked
and compiled with the restrictions of :mod:`engine.core.restricted` (no imports, no
dunders or introspection, no attribute assignment, size-guarded operators, a small set of
builtins, a per-opcode deadline), and then, by default (``SANSHE_SCRIPT_SANDBOX``), runs
in a sandbox process of :mod:`engine.core.sandbox`: no secrets, no database handle,
operating-system limits on memory and CPU and a wall-clock kill, JSON data in and out.

A script that fails, is refused or is stopped raises here; SpiffWorkflow wraps the error,
and the engine turns it into what it always does: a person's action is refused with the
reason and changes nothing, a worker's job fails (and after its retries is an incident on
its instance), a timer that fails is an incident on its instance.
"""
from collections.abc import Callable
from typing import Any, Literal

# Besides its own, the module offers the names of the restrictions that tests and validation use.
from engine.core.restricted import (
    FORBIDDEN_ATTRIBUTES, FORBIDDEN_NAMES, MAX_BITS, MAX_FORMAT_WIDTH, MAX_ITEMS, SAFE_BUILTINS, SCRIPT_FILENAME,
    ScriptLimitError, ScriptRejected, ScriptTimeout, check_expression, compile_restricted, is_plain, run_with_deadline,
)
from engine.core.sandbox import SandboxPool
from engine.core.spiff import PythonScriptEngine, TaskDataEnvironment

__all__ = [
    "FORBIDDEN_ATTRIBUTES", "FORBIDDEN_NAMES", "MAX_BITS", "MAX_FORMAT_WIDTH", "MAX_ITEMS", "SAFE_BUILTINS",
    "SCRIPT_FILENAME", "ScriptLimitError", "ScriptRejected", "ScriptTimeout", "check_expression", "compile_restricted",
    "is_plain", "run_with_deadline", "RestrictedEnvironment", "SandboxedEnvironment", "RestrictedScriptEngine",
    "sandbox_pool", "make_script_engine",
]


class RestrictedEnvironment(TaskDataEnvironment):
    """Evaluates diagram code checked, size-guarded, with safe builtins and a deadline."""

    def __init__(self, timeout: float = 1.0, extra_builtins: dict[str, Any] | None = None) -> None:
        # The builtins live under `__builtins__` (not as globals) so task data may use
        # names like `max` without tripping the library's overwrite check.
        self.builtins = {**SAFE_BUILTINS, **(extra_builtins or {})}
        super().__init__({"__builtins__": self.builtins})  # pyright: ignore[reportUnknownMemberType] (SpiffWorkflow is untyped)
        self.timeout = timeout

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        code = compile_restricted(expression, "eval")
        scope = {**(external_context or {}), **context, "__builtins__": self.builtins}
        return self._run(lambda: eval(code, scope), scope)

    def execute(self, script: str, context: dict[str, Any],
                external_context: dict[str, Any] | None = None) -> Literal[True]:
        code = compile_restricted(script, "exec")
        self.check_for_overwrite(context, external_context or {})  # pyright: ignore[reportUnknownMemberType] (SpiffWorkflow is untyped)
        context.update(external_context or {})
        context["__builtins__"] = self.builtins
        try:
            self._run(lambda: exec(code, context), context)
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)  # pyright: ignore[reportUnknownMemberType] (SpiffWorkflow is untyped)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> None:
        raise NotImplementedError("service tasks are completed by workers, not by scripts")

    def _run(self, call: Callable[[], Any], scope: dict[str, Any]) -> Any:
        return run_with_deadline(call, scope, self.timeout)


class SandboxedEnvironment(RestrictedEnvironment):
    """The same checks, then the code runs in a sandbox process of ``pool``.

    Plain code (``restricted.is_plain``: no call, no loop; most conditions, timer texts and
    service parameters of the seven-step diagram) runs here with the checks and the
    deadline: it cannot reach what the sandbox keeps away, and a round trip to a sandbox
    process costs more than the step it serves on a busy machine (measured in the engine
    benchmark: see the README's note on the sandbox).
    """

    def __init__(self, pool: SandboxPool, timeout: float = 1.0) -> None:
        super().__init__(timeout=timeout)
        self.pool = pool

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        compile_restricted(expression, "eval")  # refused here, before any process is asked
        if is_plain(expression, "eval"):
            return super().evaluate(expression, context, external_context)
        return self.pool.run("eval", expression, {**(external_context or {}), **context}, self.timeout)

    def execute(self, script: str, context: dict[str, Any],
                external_context: dict[str, Any] | None = None) -> Literal[True]:
        compile_restricted(script, "exec")
        if is_plain(script, "exec"):
            return super().execute(script, context, external_context)
        external = external_context or {}
        self.check_for_overwrite(context, external)  # pyright: ignore[reportUnknownMemberType] (SpiffWorkflow is untyped)
        changed = self.pool.run("exec", script, {**context, **external}, self.timeout, drop=tuple(external))
        context.clear()
        context.update(changed)
        return True


class RestrictedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine over a ``RestrictedEnvironment``."""

    def validate(self, expression: str) -> None:
        problems = check_expression(expression, "eval")
        if problems:
            raise ScriptRejected("; ".join(problems))


_pools: dict[tuple[int, int], SandboxPool] = {}


def sandbox_pool(size: int = 2, memory_mb: int = 256) -> SandboxPool:
    """The process's pool of sandbox processes of this size and memory limit (one each)."""
    key = (size, memory_mb)
    if key not in _pools:
        _pools[key] = SandboxPool(size, memory_mb)
    return _pools[key]


def make_script_engine(settings_or_timeout: Any = 1.0) -> "RestrictedScriptEngine":
    """A restricted script engine; takes ``Settings`` (``script_timeout``, ``script_sandbox``,
    ``script_processes``, ``script_memory_mb``) or seconds (sandboxed with the defaults)."""
    timeout = float(getattr(settings_or_timeout, "script_timeout", settings_or_timeout))
    if not getattr(settings_or_timeout, "script_sandbox", True):
        return RestrictedScriptEngine(RestrictedEnvironment(timeout=timeout))
    pool = sandbox_pool(int(getattr(settings_or_timeout, "script_processes", 2)),
                        int(getattr(settings_or_timeout, "script_memory_mb", 256)))
    return RestrictedScriptEngine(SandboxedEnvironment(pool, timeout=timeout))

