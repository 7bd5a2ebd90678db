import pytest

from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    MerchantUserFactory,
    OpsUserFactory,
)
from tests.progress.factories import JOURNEY_STEPS, JourneyStepFactory


@pytest.fixture
def merchant_user(db):
    return MerchantUserFactory()


@pytest.fixture
def ae_user(db):
    return AeUserFactory()


@pytest.fixture
def ic_user(db):
    return IcUserFactory()


@pytest.fixture
def compliance_user(db):
    return ComplianceUserFactory()


@pytest.fixture
def ops_user(db):
    return OpsUserFactory()


@pytest.fixture
def journey_steps(db):
    """The ten real steps with their dependencies, by id: `journey_steps[7]`."""
    steps = {}
    for step_id, _name, _stage, _required, depends_on in JOURNEY_STEPS:
        steps[step_id] = JourneyStepFactory(
            id=step_id, depends_on=[steps[dependency] for dependency in depends_on]
        )
    return steps
