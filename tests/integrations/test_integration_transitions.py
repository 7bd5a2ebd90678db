import pytest

from apps.integrations import services
from apps.integrations.models import SyncStatus, WebhookStatus
from tests.fsm_matrix import Case, allowed, check_allowed, check_refused, refused
from tests.integrations.factories import ExternalSystemSyncFactory, WebhookEventFactory

pytestmark = pytest.mark.django_db

S = SyncStatus
W = WebhookStatus


def _sync_case(id, sources, target, perform, reason, event=None):
    return Case(
        id=id,
        make=lambda state: ExternalSystemSyncFactory(sync_status=state),
        field="sync_status",
        sources=sources,
        target=target,
        perform=perform,
        states=S.values,
        reason=reason,
        event=event,
    )


def _webhook_case(id, sources, target, perform, reason):
    return Case(
        id=id,
        make=lambda state: WebhookEventFactory(status=state),
        field="status",
        sources=sources,
        target=target,
        perform=perform,
        states=W.values,
        reason=reason,
    )


CASES = [
    _sync_case(
        "start",
        [S.PENDING, S.FAILED],
        S.IN_PROGRESS,
        lambda s: services.sync_start(sync=s),
        "sync_start",
    ),
    _sync_case(
        "succeed",
        [S.IN_PROGRESS],
        S.SYNCED,
        lambda s: services.sync_succeed(sync=s, external_entity_id="crm_42"),
        "sync_succeed",
        "sync.completed",
    ),
    _sync_case(
        "fail",
        [S.IN_PROGRESS],
        S.FAILED,
        lambda s: services.sync_fail(sync=s, error="503 from CRM"),
        "sync_fail: 503 from CRM",
        "sync.failed",
    ),
    _sync_case(
        "flag_conflict",
        [S.IN_PROGRESS],
        S.CONFLICT,
        lambda s: services.sync_flag_conflict(sync=s, detail="phone changed on both sides"),
        "sync_flag_conflict",
        "conflict.detected",
    ),
    _sync_case(
        "requeue",
        [S.SYNCED, S.FAILED, S.CONFLICT],
        S.PENDING,
        lambda s: services.sync_requeue(sync=s, actor=None, reason="ops retry"),
        "sync_requeue: ops retry",
    ),
    _webhook_case(
        "start_processing",
        [W.RECEIVED, W.FAILED],
        W.PROCESSING,
        lambda w: services.webhook_start_processing(webhook=w),
        "webhook_process",
    ),
    _webhook_case(
        "mark_processed",
        [W.PROCESSING],
        W.PROCESSED,
        lambda w: services.webhook_mark_processed(webhook=w),
        "webhook_processed",
    ),
    _webhook_case(
        "mark_failed",
        [W.PROCESSING],
        W.FAILED,
        lambda w: services.webhook_mark_failed(webhook=w, error="unknown merchant"),
        "webhook_failed",
    ),
    _webhook_case(
        "reject",
        [W.RECEIVED],
        W.REJECTED,
        lambda w: services.webhook_reject(webhook=w, error="bad signature"),
        "webhook_rejected",
    ),
]


@pytest.mark.parametrize(("case", "source"), allowed(CASES))
def test_integration_transition_is_allowed_from_its_sources(case, source):
    check_allowed(case, source)


@pytest.mark.parametrize(("case", "state"), refused(CASES))
def test_integration_transition_is_refused_from_other_states(case, state):
    check_refused(case, state)


def test_a_failed_sync_counts_retries_and_keeps_the_error():
    sync = ExternalSystemSyncFactory(sync_status=S.IN_PROGRESS)
    services.sync_fail(sync=sync, error="timeout")
    sync.refresh_from_db()
    assert (sync.retry_count, sync.last_error) == (1, "timeout")
    assert sync.last_error_at is not None


def test_only_ops_may_retry_a_sync(ae_user, ops_user):
    from apps.core.errors import ActionForbidden

    sync = ExternalSystemSyncFactory(sync_status=S.FAILED)
    with pytest.raises(ActionForbidden):
        services.sync_requeue(sync=sync, actor=ae_user)
    services.sync_requeue(sync=sync, actor=ops_user)
    sync.refresh_from_db()
    assert sync.sync_status == S.PENDING
