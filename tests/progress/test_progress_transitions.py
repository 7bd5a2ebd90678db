import pytest

from apps.core.errors import DomainError, TransitionRefused
from apps.progress import services
from apps.progress.models import AlertStatus, MerchantStepProgress, StepStatus
from tests.accounts.factories import IcUserFactory
from tests.fsm_matrix import Case, allowed, check_allowed, check_refused, refused
from tests.merchants.factories import MerchantFactory
from tests.progress.factories import MerchantStepProgressFactory, StallAlertFactory

pytestmark = pytest.mark.django_db

S = StepStatus
A = AlertStatus
ALERT_OPEN = [A.OPEN, A.ASSIGNED, A.IN_PROGRESS]


def _progress(step_id):
    return lambda state: MerchantStepProgressFactory(step__id=step_id, status=state)


def _step_case(id, sources, target, perform, reason, event=None, step_id=1):
    return Case(
        id=id,
        make=_progress(step_id),
        field="status",
        sources=sources,
        target=target,
        perform=perform,
        states=S.values,
        reason=reason,
        event=event,
    )


def _alert(state):
    owner = None if state == A.OPEN else IcUserFactory()
    return StallAlertFactory(alert_status=state, assigned_to=owner)


def _alert_case(id, sources, target, perform, reason, event=None):
    return Case(
        id=id,
        make=_alert,
        field="alert_status",
        sources=sources,
        target=target,
        perform=perform,
        states=A.values,
        reason=reason,
        event=event,
    )


def _owner(alert):
    return alert.assigned_to or IcUserFactory()


CASES = [
    _step_case(
        "start", [S.PENDING], S.IN_PROGRESS,
        lambda p: services.step_start(progress=p), "step_start: step 1", "step.started",
    ),
    _step_case(
        "complete", [S.IN_PROGRESS], S.COMPLETED,
        lambda p: services.step_complete(progress=p), "step_complete: step 1",
        "merchant.step_completed",
    ),
    _step_case(
        "block", [S.IN_PROGRESS], S.BLOCKED,
        lambda p: services.step_block(progress=p, reason="Waiting for documents"),
        "step_block: step 1: Waiting for documents", "step.blocked",
    ),
    _step_case(
        "unblock", [S.BLOCKED], S.IN_PROGRESS,
        lambda p: services.step_unblock(progress=p), "step_unblock: step 1", "step.unblocked",
    ),
    _step_case(
        "fail", [S.IN_PROGRESS], S.FAILED,
        lambda p: services.step_fail(progress=p, error="Card declined"),
        "step_fail: step 1: Card declined", "step.failed",
    ),
    _step_case(
        "undo", [S.COMPLETED], S.FAILED,
        lambda p: services.step_undo(progress=p, error="Your order was refunded."),
        "step_undo: step 1: Your order was refunded.", "step.undone",
    ),
    _step_case(
        "retry", [S.FAILED], S.IN_PROGRESS,
        lambda p: services.step_retry(progress=p), "step_retry: step 1", "step.retried",
    ),
    _step_case(
        "skip_optional", [S.PENDING, S.IN_PROGRESS], S.SKIPPED,
        lambda p: services.step_skip(progress=p), "step_skip: step 8", "step.skipped", step_id=8,
    ),
    _alert_case(
        "alert_claim", [A.OPEN, A.ASSIGNED], A.ASSIGNED,
        # Its holder claims it again (someone else is refused: test_alert_inbox.py).
        lambda a: services.alert_claim(alert=a, agent=(ic := _owner(a)), actor=ic),
        "alert_claim",
    ),
    _alert_case(
        "alert_start_work", [A.ASSIGNED], A.IN_PROGRESS,
        lambda a: services.alert_start_work(alert=a, actor=_owner(a)), "alert_start_work",
    ),
    _alert_case(
        "alert_resolve", ALERT_OPEN, A.RESOLVED,
        lambda a: services.alert_resolve(alert=a, actor=_owner(a), action="Called, unblocked"),
        "alert_resolve: Called, unblocked", "alert.resolved",
    ),
    _alert_case(
        "alert_dismiss", ALERT_OPEN, A.DISMISSED,
        lambda a: services.alert_dismiss(alert=a, actor=_owner(a), reason="Merchant on holiday"),
        "alert_dismiss: Merchant on holiday", "alert.dismissed",
    ),
]


@pytest.mark.parametrize(("case", "source"), allowed(CASES))
def test_progress_transition_is_allowed_from_its_sources(case, source):
    check_allowed(case, source)


@pytest.mark.parametrize(("case", "state"), refused(CASES))
def test_progress_transition_is_refused_from_other_states(case, state):
    check_refused(case, state)


def _journey(merchant, journey_steps, **statuses):
    return {
        step_id: MerchantStepProgressFactory(
            merchant=merchant, step=step, status=statuses.get(f"s{step_id}", S.PENDING)
        )
        for step_id, step in journey_steps.items()
    }


def test_a_step_cannot_start_before_its_dependencies_are_done(journey_steps):
    rows = _journey(MerchantFactory(), journey_steps, s1=S.COMPLETED, s2=S.IN_PROGRESS)
    with pytest.raises(TransitionRefused, match="depends on must be completed"):
        services.step_start(progress=rows[3])
    assert MerchantStepProgress.objects.get(pk=rows[3].pk).status == S.PENDING


def test_a_skipped_optional_dependency_counts_as_done(journey_steps):
    done = {f"s{i}": S.COMPLETED for i in range(1, 10)}
    rows = _journey(MerchantFactory(), journey_steps, **{**done, "s8": S.SKIPPED})
    services.step_start(progress=rows[10])
    assert MerchantStepProgress.objects.get(pk=rows[10].pk).status == S.IN_PROGRESS


def test_required_steps_cannot_be_skipped(journey_steps):
    rows = _journey(MerchantFactory(), journey_steps)
    with pytest.raises(TransitionRefused, match="Only optional steps"):
        services.step_skip(progress=rows[9])


def test_completing_a_step_moves_the_merchant_to_the_next_open_step(journey_steps):
    merchant = MerchantFactory()
    rows = _journey(merchant, journey_steps, s1=S.COMPLETED, s2=S.IN_PROGRESS)
    services.step_complete(progress=rows[2])
    merchant.refresh_from_db()
    assert merchant.current_step == 3


def test_completing_a_step_records_time_spent(journey_steps):
    rows = _journey(MerchantFactory(), journey_steps)
    services.step_start(progress=rows[1])
    services.step_complete(progress=rows[1])
    rows[1].refresh_from_db()
    assert rows[1].started_at <= rows[1].completed_at
    assert rows[1].time_spent_seconds >= 0


def test_failures_count_errors_on_the_step(journey_steps):
    rows = _journey(MerchantFactory(), journey_steps, s1=S.IN_PROGRESS)
    for attempt in range(3):
        services.step_fail(progress=rows[1], error=f"Declined #{attempt}")
        services.step_retry(progress=rows[1])
    rows[1].refresh_from_db()
    assert rows[1].error_count == 3
    assert rows[1].last_error == "Declined #2"


def test_merchant_progress_create_makes_one_row_per_step_once(journey_steps):
    merchant = MerchantFactory()
    services.merchant_progress_create(merchant=merchant)
    services.merchant_progress_create(merchant=merchant)
    assert merchant.step_progress.count() == 10


def test_journey_cannot_complete_with_a_required_step_open(journey_steps):
    from apps.merchants.services.journey import merchant_journey_complete

    merchant = MerchantFactory()
    done = {f"s{i}": S.COMPLETED for i in range(1, 9)}
    _journey(merchant, journey_steps, **done)
    with pytest.raises(TransitionRefused, match="Every required step"):
        merchant_journey_complete(merchant=merchant)


@pytest.mark.parametrize(
    ("service", "kwargs", "message"),
    [
        ("alert_resolve", {"action": ""}, services.ACTION_REQUIRED),
        ("alert_dismiss", {"reason": " "}, services.REASON_REQUIRED),
    ],
)
def test_closing_an_alert_needs_words(service, kwargs, message, ic_user):
    alert = StallAlertFactory()
    with pytest.raises(DomainError, match=message):
        getattr(services, service)(alert=alert, actor=ic_user, **kwargs)
    alert.refresh_from_db()
    assert alert.alert_status == A.OPEN
