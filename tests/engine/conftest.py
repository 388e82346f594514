"""Fixtures for the engine tests."""
from pathlib import Path

import pytest

from tests.factories import deploy_world

DATA = Path(__file__).resolve().parent.parent / "data" / "engine"


@pytest.fixture
def env(services):
    """The small test diagrams deployed and a test world: ``(services, world)``."""
    return services, deploy_world(services, DATA)
