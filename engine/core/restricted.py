"""Restricted Python: the checks, size guards and builtins of diagram code, and a deadline.

This module imports nothing of SpiffWorkflow or the database: the sandbox processes
(``engine.core.sandbox``) import it alone. ``engine.core.scripting`` puts it behind
SpiffWorkflow's script environment.

Every piece of diagram code is

1. checked by ``check_expression`` (the same checker runs at deploy time): no imports,
   no dunder names or private attributes, no introspection attributes (``gi_frame``,
   ``f_globals``, ``format`` ...), also not through ``match`` class patterns, no
   assignment to any attribute (the classes a script reaches are shared by the whole
   process), no ``register`` (``Fraction`` is an abstract base class), no names of
   dangerous builtins, no class definitions, no ``finally`` or bare ``except`` (they
   could outlive the time limit);
2. rewritten so that ``+``, ``*``, ``**``, ``<<`` and ``%`` refuse results that would be
   huge (a diagram must not exhaust the server's memory with ``10**10**10``);
3. run with a small whitelist of builtins and a deadline that ``sys.settrace`` checks on
   every line the diagram's code runs, in whatever thread it runs.

What one call into C code does (``int(Decimal("1e700000"))``, ``s.replace("a", s)``) no
trace sees: the sandbox process's operating-system limits and wall-clock kill stop it.
"""
import ast
import copy
import re
import sys
import time
from collections.abc import Callable, Iterable, Sized
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, SupportsIndex, cast
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from types import CodeType, FrameType

if TYPE_CHECKING:
    from _typeshed import TraceFunction


# Largest sequence (characters, items) or range an operator may produce in a script.
MAX_ITEMS = 1_000_000
# Largest integer, in bits (about 30,000 decimal digits), an operator may produce.
MAX_BITS = 100_000
# Largest width or precision in an f-string format spec.
MAX_FORMAT_WIDTH = 1000
# Filename compiled diagram code carries; SpiffWorkflow looks for it to report line numbers.
SCRIPT_FILENAME = "<string>"

FORBIDDEN_NAMES = frozenset({
    "eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "hasattr",
    "globals", "locals", "vars", "dir", "type", "object", "super", "breakpoint", "input",
    "help", "memoryview", "classmethod", "staticmethod", "property", "exit", "quit",
    "print", "id", "iter", "next", "format", "bytes", "bytearray", "BaseException",
    "SystemExit", "KeyboardInterrupt", "GeneratorExit",
})

# Attributes that reach interpreter internals, or build a huge string in one C call.
FORBIDDEN_ATTRIBUTES = frozenset({
    "format", "format_map", "mro", "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame",
    "cr_code", "cr_await", "ag_frame", "ag_code", "ag_await", "f_back", "f_globals",
    "f_locals", "f_builtins", "f_code", "f_trace", "tb_frame", "tb_next", "func_globals",
    "func_code", "co_code", "ljust", "rjust", "center", "zfill", "expandtabs",
    # `Fraction` is an abstract base class: `Fraction.register(str)` would make every
    # string count as a number for the whole process (JSON Schema's number check).
    "register",
    # `(0).to_bytes(3 * 10**8)` allocates hundreds of MB inside one C call.
    "to_bytes",
})

FORBIDDEN_NODES: dict[type[ast.AST], str] = {
    ast.Import: "imports are not allowed",
    ast.ImportFrom: "imports are not allowed",
    ast.ClassDef: "class definitions are not allowed",
    ast.AsyncFunctionDef: "async code is not allowed",
    ast.AsyncFor: "async code is not allowed",
    ast.AsyncWith: "async code is not allowed",
    ast.Await: "async code is not allowed",
    ast.Global: "'global' is not allowed",
    ast.Nonlocal: "'nonlocal' is not allowed",
    ast.Yield: "generators ('yield') are not allowed",
    ast.YieldFrom: "generators ('yield') are not allowed",
    ast.With: "'with' is not allowed",
    ast.TryStar: "'except*' is not allowed",
}


class ScriptRejected(ValueError):
    """Diagram code uses something restricted scripts may not use."""


class ScriptTimeout(RuntimeError):
    """A diagram script or condition ran longer than the time limit and was stopped."""


class _Deadline(BaseException):
    # Raised inside the diagram's frames: a BaseException, so `except Exception` in the
    # script cannot catch it (bare `except:` and `finally` are refused by the checker).
    pass


class ScriptLimitError(ArithmeticError):
    """A diagram script tried to build a value larger than the engine allows."""


# -- checking -----------------------------------------------------------------------


def check_expression(source: str, mode: str = "eval") -> list[str]:
    """Problems that make ``source`` unfit to run as diagram code; ``[]`` if it may run.

    ``mode`` is ``"eval"`` for conditions and expressions, ``"exec"`` for scripts.
    Messages name the line (relative to ``source``) where that helps.
    """
    return list(_check(source, mode))


@lru_cache(maxsize=2048)
def _check(source: object, mode: str) -> tuple[str, ...]:
    if not isinstance(source, str):
        return (f"expected Python source text, got {type(source).__name__}",)
    try:
        tree = ast.parse(source, SCRIPT_FILENAME, mode)
        # Guarding and compiling recurse once per nesting level too: try both here, so that
        # what passes the check also compiles (3,000 chained `+` exhaust the recursion limit).
        compile(ast.fix_missing_locations(_Guarder().visit(ast.parse(source, SCRIPT_FILENAME, mode))),
                SCRIPT_FILENAME, mode)
    except SyntaxError as exc:
        where = f"line {exc.lineno}: " if exc.lineno else ""
        return (f"syntax error, {where}{exc.msg}",)
    except (RecursionError, MemoryError):
        return ("the code is nested too deeply or is too long; split it into smaller steps",)
    problems: list[str] = []
    for node in ast.walk(tree):
        message = _node_problem(node)
        if message:
            line = getattr(node, "lineno", None)
            problems.append(f"line {line}: {message}" if line and "\n" in source.strip() else message)
    return tuple(dict.fromkeys(problems))


def _node_problem(node: ast.AST) -> str | None:
    for node_type, message in FORBIDDEN_NODES.items():
        if isinstance(node, node_type):
            return message
    if isinstance(node, ast.Try) and node.finalbody:
        return "'finally' is not allowed"
    if isinstance(node, ast.ExceptHandler) and node.type is None:
        return "a bare 'except:' is not allowed; name the exception"
    if isinstance(node, ast.Name):
        return _name_problem(node.id)
    if isinstance(node, ast.Attribute):
        if not isinstance(node.ctx, ast.Load):
            # Classes and modules reachable from a script are shared by the whole process:
            # `Fraction.limit_denominator = ...` would change every later vote count.
            return f"assigning or deleting attribute '{node.attr}' is not allowed"
        return _attribute_problem(node.attr)
    if isinstance(node, ast.MatchClass):
        # `case str(format=f)` reads attributes just as `x.format` does.
        return next(filter(None, (_attribute_problem(a) for a in node.kwd_attrs)), None)
    if isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
        return _name_problem(node.name)
    if isinstance(node, ast.MatchMapping) and node.rest:
        return _name_problem(node.rest)
    if isinstance(node, (ast.FunctionDef, ast.Lambda)):
        names = [a.arg for a in _all_args(node.args)]
        if isinstance(node, ast.FunctionDef):
            names.append(node.name)
        return next(filter(None, (_name_problem(n) for n in names)), None)
    if isinstance(node, ast.keyword) and node.arg and node.arg.startswith("__"):
        return f"name '{node.arg}' is not allowed"
    if isinstance(node, ast.ExceptHandler) and node.name:
        return _name_problem(node.name)
    if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
        return _format_spec_problem(node.format_spec)
    return None


def _attribute_problem(attr: str) -> str | None:
    if attr.startswith("_"):
        return f"access to private attribute '{attr}' is not allowed"
    if attr in FORBIDDEN_ATTRIBUTES:
        return f"attribute '{attr}' is not allowed"
    return None


def _name_problem(name: str) -> str | None:
    # `_sanshe_*` are the size guards: a script defining one would switch its guard off.
    if name.startswith(("__", "_sanshe")):
        return f"name '{name}' is not allowed"
    if name in FORBIDDEN_NAMES:
        return f"'{name}' is not available in diagram scripts"
    return None


def _all_args(args: ast.arguments) -> list[ast.arg]:
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    return every + [a for a in (args.vararg, args.kwarg) if a is not None]


def _format_spec_problem(spec: ast.expr) -> str | None:
    parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
    if not all(isinstance(p, ast.Constant) for p in parts):
        return "computed format specs in f-strings are not allowed"
    text = "".join(str(getattr(p, "value", "")) for p in parts)
    if any(int(digits) > MAX_FORMAT_WIDTH for digits in re.findall(r"\d+", text)):
        return f"format width or precision above {MAX_FORMAT_WIDTH} is not allowed"
    return None


# -- size guards ------------------------------------------------------------------------

class _Sequence(Sized, Iterable[object], Protocol):
    """What the size guards measure: a string, bytes, list or tuple."""


# What the size guards measure, and what counts towards a repeated sequence's size. Typed
# so that a plain `isinstance` narrows to what the guards use: they run on every operator
# of a script, so they call no helper to check a type.
_SIZED: tuple[type[_Sequence], ...] = (str, bytes, list, tuple)
_MEASURED: tuple[type[Sized], ...] = (*_SIZED, dict, set)


def _bits(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, Fraction)):
        return None
    if isinstance(value, Fraction):
        return value.numerator.bit_length() + value.denominator.bit_length()
    return value.bit_length()


def _refuse(what: str) -> NoReturn:
    raise ScriptLimitError(f"{what} would be too large for a diagram script")


def _shallow_size(seq: _Sequence) -> int:
    return len(seq) + sum(len(item) for item in seq if isinstance(item, _MEASURED))


def _guard_add(a: Any, b: Any) -> Any:
    if isinstance(a, _SIZED) and isinstance(b, _SIZED) and len(a) + len(b) > MAX_ITEMS:
        _refuse("the sum")
    return cast(Any, a) + b


def _guard_mult(a: Any, b: Any) -> Any:
    for seq, count in ((a, b), (b, a)):
        if isinstance(seq, _SIZED) and isinstance(count, int):
            if count > 0 and _shallow_size(seq) * count > MAX_ITEMS:
                _refuse("the repeated sequence")
    bits_a, bits_b = _bits(a), _bits(b)
    if bits_a is not None and bits_b is not None and bits_a + bits_b > MAX_BITS:
        _refuse("the product")
    return a * b


def _guard_pow(a: Any, b: Any) -> Any:
    bits_a, exponent = _bits(a), b
    if isinstance(exponent, Fraction) and exponent.denominator == 1:
        exponent = exponent.numerator
    if bits_a is not None and isinstance(exponent, int) and abs(a) > 1:
        if bits_a * abs(exponent) > MAX_BITS:
            _refuse("the power")
    return a ** b


def _guard_lshift(a: Any, b: Any) -> Any:
    bits_a = _bits(a)
    if bits_a is not None and isinstance(b, int) and bits_a + b > MAX_BITS:
        _refuse("the shifted number")
    return a << b


def _guard_mod(a: Any, b: Any) -> Any:
    if isinstance(a, (str, bytes)):
        raise ScriptLimitError("'%' formatting is not allowed in diagram scripts; use an f-string")
    return a % b


def _bounded_range(*args: SupportsIndex) -> range:
    result = range(*args)
    if len(result) > MAX_ITEMS:
        _refuse("the range")
    return result


_GUARDS: dict[type[ast.operator], str] = {ast.Add: "_sanshe_add", ast.Mult: "_sanshe_mult", ast.Pow: "_sanshe_pow",
           ast.LShift: "_sanshe_lshift", ast.Mod: "_sanshe_mod"}


class _Guarder(ast.NodeTransformer):
    """Routes the value-growing operators through the size guards."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        guard = _GUARDS.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(func=ast.Name(guard, ast.Load()), args=[node.left, node.right], keywords=[])
        return ast.copy_location(call, node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.stmt:
        self.generic_visit(node)
        guard = _GUARDS.get(type(node.op))
        if guard is None:
            return node
        # `t op= v` becomes `t = guard(t, v)`; the target's subexpressions run twice,
        # which is harmless for the subscripts diagram scripts use.
        current = _as_load(copy.deepcopy(node.target))
        call = ast.Call(func=ast.Name(guard, ast.Load()), args=[current, node.value], keywords=[])
        return ast.copy_location(ast.Assign(targets=[node.target], value=call), node)


def _as_load(node: ast.expr) -> ast.expr:
    for child in ast.walk(node):
        if hasattr(child, "ctx"):
            setattr(child, "ctx", ast.Load())  # noqa: B010 (any node with a context)
    return node


@lru_cache(maxsize=2048)
def compile_restricted(source: str, mode: str) -> CodeType:
    """Compile diagram code after checking it; raises ``ScriptRejected`` when it may not run."""
    problems = check_expression(source, mode)
    if problems:
        raise ScriptRejected("; ".join(problems))
    tree = _Guarder().visit(ast.parse(source, SCRIPT_FILENAME, mode))
    return compile(ast.fix_missing_locations(tree), SCRIPT_FILENAME, mode)


# -- running ----------------------------------------------------------------------------

SAFE_BUILTINS: dict[str, Any] = {
    # plain values and containers
    "bool": bool, "int": int, "float": float, "str": str, "list": list, "dict": dict,
    "set": set, "frozenset": frozenset, "tuple": tuple,
    # functions over them
    "len": len, "min": min, "max": max, "sum": sum, "round": round, "abs": abs,
    "sorted": sorted, "reversed": reversed, "any": any, "all": all, "enumerate": enumerate,
    "zip": zip, "map": map, "filter": filter, "divmod": divmod, "isinstance": isinstance,
    "range": _bounded_range,
    # dates, exact numbers ("2/3 of the votes")
    "datetime": datetime, "date": date, "timedelta": timedelta, "timezone": timezone,
    "Decimal": Decimal, "Fraction": Fraction,
    # exceptions a script may raise or catch
    "Exception": Exception, "ValueError": ValueError, "KeyError": KeyError,
    "TypeError": TypeError, "IndexError": IndexError, "LookupError": LookupError,
    "ArithmeticError": ArithmeticError, "ZeroDivisionError": ZeroDivisionError,
    # the size guards the compiled code calls
    "_sanshe_add": _guard_add, "_sanshe_mult": _guard_mult, "_sanshe_pow": _guard_pow,
    "_sanshe_lshift": _guard_lshift, "_sanshe_mod": _guard_mod,
}


def run_with_deadline(call: Callable[[], Any], scope: dict[str, Any], timeout: float) -> Any:
    """``call()`` (which runs code compiled with ``scope`` as its globals), stopped with
    ``ScriptTimeout`` once it has run ``timeout`` seconds: ``sys.settrace`` checks the
    deadline on every opcode of the diagram's own frames, in whatever thread it runs."""
    deadline = time.monotonic() + timeout

    def trace_step(frame: FrameType, event: str, arg: Any) -> "TraceFunction":
        if time.monotonic() > deadline:
            raise _Deadline()
        return trace_step

    def trace_call(frame: FrameType, event: str, arg: Any) -> "TraceFunction | None":
        # Only the diagram's own frames (they share its globals) are timed, per opcode:
        # `while True: pass` on one line produces no line events.
        if frame.f_globals is scope:
            frame.f_trace_opcodes = True
            return trace_step(frame, event, arg)
        return None

    # sys.settrace is per thread, so this works in worker threads too (unlike signals).
    previous = sys.gettrace()
    sys.settrace(trace_call)
    try:
        return call()
    except _Deadline:
        raise ScriptTimeout(f"script or condition ran longer than {timeout:g} s and was stopped") from None
    finally:
        sys.settrace(previous)


# Code made only of these nodes calls no function and runs no loop: it compares, picks and
# assembles values it is given (`project["social_work"] == True`, `"P7D"`, `2/3`,
# `revision_rounds = revision_rounds + 1`, `{"voter": voter, "ballot": ballot}`), in time and
# memory bounded by the size of that data (`+` stays size-guarded). Not `in`: a substring
# search in a long text is one C call that could run for seconds.
_PLAIN_NODES = (
    ast.Expression, ast.Module, ast.Expr, ast.Assign, ast.Name, ast.Load, ast.Store, ast.Constant,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot,
    ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.BinOp, ast.Add, ast.Sub, ast.Div, ast.FloorDiv,
    ast.Subscript, ast.Dict, ast.List, ast.Tuple, ast.Set, ast.IfExp,
)


@lru_cache(maxsize=2048)
def is_plain(source: str, mode: str) -> bool:
    """Whether ``source`` (already accepted by :func:`check_expression`) only compares,
    picks and assembles values: no call, no loop, no comprehension, no attribute."""
    try:
        tree = ast.parse(source, SCRIPT_FILENAME, mode)
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return False
    return all(isinstance(node, _PLAIN_NODES) for node in ast.walk(tree))
