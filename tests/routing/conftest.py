import pytest

from tests.routing.factories import seeded_queues


@pytest.fixture
def queues(db):
    """The seeded queues by code: queues["ae_high_priority"], queues["ic_intervention"]..."""
    return seeded_queues()
