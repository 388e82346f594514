"""Administration commands: check diagrams and forms before they are deployed."""
import sys
from pathlib import Path

import click

from engine.errors import NotFoundError
from engine.models import LANE_ROLES
from engine.validation import validate_bundle
from workers.registry import TOPICS

from .app import clear_errors, main


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@clear_errors
def validate(paths):
    """Check BPMN diagrams and their forms without deploying anything.

    PATHS are files or folders; a folder means its *.bpmn files plus forms/*.schema.json.
    A diagram given alone is checked with the forms/ folder next to it. Prints every
    finding, one per line, and exits with 1 when any of them is an error.
    """
    bpmn_files, forms = read_for_validation(paths)
    findings = validate_bundle(bpmn_files, forms, LANE_ROLES, set(TOPICS))
    for finding in findings:
        click.echo(str(finding))
    if any(finding.severity == "error" for finding in findings):
        sys.exit(1)
    click.echo(f"ok: {len(bpmn_files) + len(forms)} files valid")


def read_for_validation(paths):
    """``(bpmn_files, forms)`` as raw text, so malformed JSON becomes a finding too."""
    bpmn_files, forms, neighbour_forms = {}, {}, {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            bpmn_files.update(_read(path.glob("*.bpmn")))
            forms.update(_read((path / "forms").glob("*.schema.json")))
        elif path.is_file() and path.suffix == ".bpmn":
            bpmn_files.update(_read([path]))
            neighbour_forms.update(_read((path.parent / "forms").glob("*.schema.json")))
        elif path.is_file() and path.name.endswith(".json"):
            forms.update(_read([path]))
        elif path.exists():
            raise NotFoundError(f"{path}: not a .bpmn diagram, a .json form or a folder")
        else:
            raise NotFoundError(f"No such file or folder: {path}")
    return bpmn_files, forms or neighbour_forms


def _read(files):
    return {file.name: file.read_text(encoding="utf-8") for file in sorted(files)}

