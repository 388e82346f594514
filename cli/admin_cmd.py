"""Administration commands: check diagrams and forms before they are deployed."""
import re
import sys
from pathlib import Path

import click

from engine.config import load_settings
from engine.errors import NotFoundError
from engine.models import ROLES
from engine.validation import validate_bundle

from .app import clear_errors, main

# Roles a lane may name; administrators manage the system and do no process work.
LANE_ROLES = tuple(role for role in ROLES if role != "administrator")


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
    findings = validate_bundle(bpmn_files, forms, LANE_ROLES, known_topics())
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


def known_topics():
    """Service topics some worker handles."""
    try:
        from workers.registry import TOPICS
    except ImportError:
        # Temporary, while the workers package may be absent from an installation: accept
        # the topics the shipped diagrams use.
        return _topics_in(Path(load_settings().processes_dir))
    return set(TOPICS)


def _topics_in(folder):
    pattern = re.compile(r'serviceTaskOperator\s+id="([^"]+)"')
    return {topic for file in folder.glob("*.bpmn") for topic in pattern.findall(file.read_text(encoding="utf-8"))}
