"""The root command group and the context every command shares."""
import functools
import sys
import unicodedata

import click

from engine.config import load_settings
from engine.errors import SansheError


class Context:
    """Lazily built collaborators for a command: settings, database, engine."""

    def __init__(self):
        self.settings = load_settings()
        self._services = None

    @property
    def services(self):
        if self._services is None:
            from engine.wiring import build_services
            self._services = build_services(self.settings)
        return self._services


def pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (a Chinese character takes two)."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - used)


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def clear_errors(func):
    """Print engine errors as one line and exit non-zero, never a traceback."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except SansheError as exc:
            click.echo(f"error: {exc}", err=True)
            for field, messages in getattr(exc, "errors", {}).items():
                for message in messages:
                    click.echo(f"  {field or '(input)'}: {message}", err=True)
            for finding in getattr(exc, "findings", []):
                click.echo(f"  {finding}", err=True)
            sys.exit(1)
    return wrapper


@click.group()
@click.pass_context
def main(ctx):
    """Sanshe: the Seven-Step Method of Three-Society Linkage as a BPMN process."""
    ctx.ensure_object(Context)


@main.group()
def bench():
    """Benchmarks (see bench/)."""
