"""Agreement commands: check a copy of a signed agreement, write its PDF."""
import sys
from pathlib import Path

import click

from engine.core.db import unit_of_work
from engine.core.models import utcnow
from engine.documents import agreement_pdf

from .app import clear_errors, main, pass_ctx


@main.group()
def agreements():
    """Purchase agreements (购买服务协议): their PDFs and seals."""


@agreements.command("verify")
@click.argument("copy")
@pass_ctx
@clear_errors
def agreements_verify(ctx, copy):
    """Is COPY (a PDF file, or a SHA-256 of 64 hex digits) the sealed agreement?

    The last line is the verdict (VERIFIED / NOT VERIFIED); exit status 0 only when verified.
    """
    path = Path(copy)
    with unit_of_work(ctx.services.session_factory, readonly=True) as session:
        if path.is_file():
            verdict = agreement_pdf.check_file(session, path.read_bytes())
        else:
            verdict = agreement_pdf.check_hash(session, copy)
        if verdict.view is not None:
            view = verdict.view
            click.echo(f"agreement {view.number}: {view.purchaser} / {view.contractor}, {view.amount} yuan "
                       f"({view.amount_capital})")
            for signer in view.signers:
                click.echo(f"  {signer.party}: {signer.name}, {signer.signed_at:%Y-%m-%d}")
            click.echo(f"  seal {view.seal}")
            for problem in view.problems:
                click.echo(f"  problem: {problem}")
    click.echo(verdict.sentence)
    if not verdict.ok:
        sys.exit(1)


@agreements.command("pdf")
@click.argument("number")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True,
              help="Where to write the PDF.")
@pass_ctx
@clear_errors
def agreements_pdf(ctx, number, output):
    """Write the PDF of signed agreement NUMBER (made once, then always the same file)."""
    with unit_of_work(ctx.services.session_factory) as session:
        document = agreement_pdf.document_of(session, agreement_pdf.by_number(session, number), utcnow())
        Path(output).write_bytes(document.pdf)
        click.echo(f"{output}: agreement {number}, sha256 {document.sha256}")
