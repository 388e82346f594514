"""Administration commands: check diagrams and forms before they are deployed."""
import sys

import click

from engine.core.deployments import read_sources
from engine.core.models import LANE_ROLES
from engine.core.validation import validate_bundle
from workers.registry import PARAMETER_CHECKS, TOPICS

from .app import clear_errors, main


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@clear_errors
def validate(paths):
    """Check BPMN diagrams and their forms without deploying anything.

    PATHS are read as `sanshe deploy` reads them: a folder means every *.bpmn and *.json
    file below it; a diagram given alone is checked with the forms/ folder next to it.
    Prints every finding, one per line, and exits with 1 when any of them is an error.
    """
    bpmn_files, forms = read_sources(paths)
    findings = validate_bundle(bpmn_files, forms, LANE_ROLES, set(TOPICS), PARAMETER_CHECKS)
    for finding in findings:
        click.echo(str(finding))
    if any(finding.severity == "error" for finding in findings):
        sys.exit(1)
    click.echo(f"ok: {len(bpmn_files) + len(forms)} files valid")
