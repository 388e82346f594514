"""Fixtures for the engine tests."""
from pathlib import Path

import pytest

from tests.factories import deploy_world

DATA = Path(__file__).resolve().parent.parent / "data" / "engine"
PROCESSES = Path(__file__).resolve().parents[2] / "processes"


@pytest.fixture
def env(services):
    """The small test diagrams deployed and a test world: ``(services, world)``."""
    return services, deploy_world(services, DATA)


@pytest.fixture
def seven_steps(services):
    """The real seven-step diagram (``processes/``) deployed and a test world: ``(services, world)``."""
    return services, deploy_world(services, PROCESSES)
