import pytest

from apps.core.errors import DomainError, TransitionRefused
from apps.leads.models import LeadStatus
from apps.leads.services import lead_qualify
from apps.merchants.choices import CheckStatus
from apps.orders.models import Order
from apps.orders.models.order import (
    FulfillmentStatus,
    ItemFulfillmentStatus,
    OrderPaymentStatus,
    OrderStatus,
)
from apps.orders.models.payment import PaymentStatus
from apps.orders.models.shipment import ShipmentStatus
from apps.orders.services import payments, shipments, transitions
from tests.fsm_matrix import Case, allowed, check_allowed, check_refused, refused
from tests.orders.factories import (
    HardwareShipmentFactory,
    OrderFactory,
    OrderItemFactory,
    PaymentFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db

O = OrderStatus  # noqa: E741
P = PaymentStatus
SH = ShipmentStatus
PAID_AND_LATER = [O.PAID, O.HARDWARE_ORDERED, O.SHIPPED, O.DELIVERED, O.ACTIVATED]


def _order(hardware: bool):
    def make(state):
        order = OrderFactory(status=state, merchant__kyb_status=CheckStatus.APPROVED)
        OrderItemFactory(order=order)
        if hardware:
            OrderItemFactory(order=order, product=ProductFactory(hardware=True))
        return order

    return make


def _order_case(id, sources, target, perform, event, hardware=True, not_refused=()):
    return Case(
        id=id,
        make=_order(hardware),
        field="status",
        sources=sources,
        target=target,
        perform=perform,
        states=O.values,
        reason=f"order_{id.removesuffix('_software_only')}",
        event=event,
        not_refused=list(not_refused),
    )


def _payment_case(id, sources, target, perform, reason):
    return Case(
        id=id,
        make=lambda state: PaymentFactory(status=state),
        field="status",
        sources=sources,
        target=target,
        perform=perform,
        states=P.values,
        reason=reason,
        event=f"payment.{reason.removeprefix('payment_').split(':')[0]}",
    )


def _shipment_case(id, sources, target, perform):
    return Case(
        id=id,
        make=lambda state: HardwareShipmentFactory(shipment_status=state),
        field="shipment_status",
        sources=sources,
        target=target,
        perform=perform,
        states=SH.values,
        reason=f"shipment_{id}",
        event=f"shipment.{id}",
    )


def _item_case(id, perform):
    return Case(
        id=f"item_{id}",
        make=lambda state: OrderItemFactory(fulfillment_status=state),
        field="fulfillment_status",
        sources=[ItemFulfillmentStatus.PENDING],
        target=ItemFulfillmentStatus.FULFILLED
        if id == "fulfill"
        else ItemFulfillmentStatus.CANCELLED,
        perform=perform,
        states=ItemFulfillmentStatus.values,
        reason=f"order_item_{id}",
    )


CASES = [
    _order_case(
        "generate_quote",
        [O.DRAFT],
        O.QUOTE_GENERATED,
        lambda o: transitions.order_generate_quote(order=o, actor=None),
        "order.quote_generated",
    ),
    _order_case(
        "request_payment",
        [O.QUOTE_GENERATED],
        O.PAYMENT_PENDING,
        lambda o: transitions.order_request_payment(order=o, actor=None),
        "order.payment_requested",
    ),
    _order_case(
        "mark_paid",
        [O.PAYMENT_PENDING],
        O.PAID,
        lambda o: transitions.order_mark_paid(order=o, reference="ch_1"),
        "order.paid",
    ),
    _order_case(
        "mark_hardware_ordered",
        [O.PAID],
        O.HARDWARE_ORDERED,
        lambda o: transitions.order_mark_hardware_ordered(order=o),
        "order.hardware_ordered",
    ),
    _order_case(
        "mark_shipped",
        [O.HARDWARE_ORDERED],
        O.SHIPPED,
        lambda o: transitions.order_mark_shipped(order=o),
        "order.shipped",
    ),
    _order_case(
        "mark_delivered",
        [O.SHIPPED],
        O.DELIVERED,
        lambda o: transitions.order_mark_delivered(order=o),
        "order.delivered",
    ),
    _order_case(
        "activate",
        [O.DELIVERED],
        O.ACTIVATED,
        lambda o: transitions.order_activate(order=o),
        "order.activated",
    ),
    # A software-only order never reaches "delivered": it activates straight from paid.
    _order_case(
        "activate_software_only",
        [O.PAID],
        O.ACTIVATED,
        lambda o: transitions.order_activate(order=o),
        "order.activated",
        hardware=False,
        not_refused=[O.DELIVERED],
    ),
    _order_case(
        "cancel",
        [O.DRAFT, O.QUOTE_GENERATED, O.PAYMENT_PENDING],
        O.CANCELLED,
        lambda o: transitions.order_cancel(order=o, actor=None, reason="Changed mind"),
        "order.cancelled",
    ),
    _order_case(
        "refund",
        PAID_AND_LATER,
        O.REFUNDED,
        lambda o: transitions.order_refund(order=o, actor=None, reason="Provisioning failed"),
        "order.refunded",
    ),
    _payment_case(
        "authorize",
        [P.PENDING],
        P.AUTHORIZED,
        lambda p: payments.payment_authorize(payment=p, reference="auth_1"),
        "payment_authorize",
    ),
    _payment_case(
        "capture",
        [P.AUTHORIZED],
        P.CAPTURED,
        lambda p: payments.payment_capture(payment=p),
        "payment_capture",
    ),
    _payment_case(
        "fail",
        [P.PENDING, P.AUTHORIZED],
        P.FAILED,
        lambda p: payments.payment_fail(payment=p, reason="Card declined"),
        "payment_fail: Card declined",
    ),
    _payment_case(
        "refund",
        [P.CAPTURED],
        P.REFUNDED,
        lambda p: payments.payment_refund(payment=p, reference="re_1"),
        "payment_refund",
    ),
    _shipment_case(
        "process", [SH.PENDING], SH.PROCESSING, lambda s: shipments.shipment_process(shipment=s)
    ),
    _shipment_case(
        "ship",
        [SH.PROCESSING],
        SH.SHIPPED,
        lambda s: shipments.shipment_ship(shipment=s, tracking_number="1Z999", carrier="UPS"),
    ),
    _shipment_case(
        "mark_in_transit",
        [SH.SHIPPED, SH.FAILED_DELIVERY],
        SH.IN_TRANSIT,
        lambda s: shipments.shipment_mark_in_transit(shipment=s),
    ),
    _shipment_case(
        "deliver",
        [SH.SHIPPED, SH.IN_TRANSIT],
        SH.DELIVERED,
        lambda s: shipments.shipment_deliver(shipment=s),
    ),
    _shipment_case(
        "fail_delivery",
        [SH.SHIPPED, SH.IN_TRANSIT],
        SH.FAILED_DELIVERY,
        lambda s: shipments.shipment_fail_delivery(shipment=s, reason="Nobody home"),
    ),
    _shipment_case(
        "mark_returned",
        [SH.FAILED_DELIVERY, SH.DELIVERED],
        SH.RETURNED,
        lambda s: shipments.shipment_mark_returned(shipment=s),
    ),
    _shipment_case(
        "cancel",
        [SH.PENDING, SH.PROCESSING],
        SH.CANCELLED,
        lambda s: shipments.shipment_cancel(shipment=s),
    ),
    _item_case("fulfill", lambda i: transitions.order_item_fulfill(item=i)),
    _item_case("cancel", lambda i: transitions.order_item_cancel(item=i)),
    Case(
        id="item_refund",
        make=lambda state: OrderItemFactory(fulfillment_status=state),
        field="fulfillment_status",
        sources=[ItemFulfillmentStatus.FULFILLED],
        target=ItemFulfillmentStatus.REFUNDED,
        perform=lambda i: transitions.order_item_refund(item=i),
        states=ItemFulfillmentStatus.values,
        reason="order_item_refund",
        event="order.item_refunded",
    ),
]


@pytest.mark.parametrize(("case", "source"), allowed(CASES))
def test_order_transition_is_allowed_from_its_sources(case, source):
    check_allowed(case, source)


@pytest.mark.parametrize(("case", "state"), refused(CASES))
def test_order_transition_is_refused_from_other_states(case, state):
    check_refused(case, state)


# --- Rule 1 at the FSM and service layers ------------------------------------------------------


def _quoted(kyb_status, *, hardware=True):
    order = OrderFactory(status=O.QUOTE_GENERATED, merchant__kyb_status=kyb_status)
    OrderItemFactory(order=order)
    if hardware:
        OrderItemFactory(order=order, product=ProductFactory(hardware=True))
    return order


@pytest.mark.parametrize(
    "kyb_status",
    [CheckStatus.PENDING, CheckStatus.SUBMITTED, CheckStatus.REVIEW_REQUIRED, CheckStatus.REJECTED],
)
def test_an_order_with_hardware_cannot_go_to_payment_before_kyb_approval(kyb_status):
    order = _quoted(kyb_status)
    with pytest.raises(TransitionRefused, match=r"KYB\) must be approved"):
        transitions.order_request_payment(order=order, actor=None)
    assert Order.objects.get(pk=order.pk).status == O.QUOTE_GENERATED


def test_a_software_only_order_goes_to_payment_before_kyb_approval():
    order = _quoted(CheckStatus.PENDING, hardware=False)
    transitions.order_request_payment(order=order, actor=None)
    assert Order.objects.get(pk=order.pk).status == O.PAYMENT_PENDING


def test_a_quote_needs_at_least_one_item():
    order = OrderFactory()
    with pytest.raises(TransitionRefused, match="at least one item"):
        transitions.order_generate_quote(order=order, actor=None)


def test_the_first_paid_order_converts_a_qualified_lead():
    order = _quoted(CheckStatus.APPROVED)
    lead = order.merchant.lead
    lead_qualify(lead=lead)
    transitions.order_request_payment(order=order, actor=None)
    transitions.order_mark_paid(order=order, reference="ch_1")
    lead.refresh_from_db()
    order.refresh_from_db()
    assert lead.status == LeadStatus.CONVERTED
    assert order.payment_status == OrderPaymentStatus.CAPTURED
    assert order.paid_at is not None


def test_payment_status_is_mirrored_on_the_order():
    payment = PaymentFactory()
    payments.payment_authorize(payment=payment, reference="auth_1")
    assert Order.objects.get(pk=payment.order_id).payment_status == OrderPaymentStatus.AUTHORIZED
    payments.payment_fail(payment=payment, reason="Insufficient funds")
    assert Order.objects.get(pk=payment.order_id).payment_status == OrderPaymentStatus.FAILED


def test_cancelling_needs_a_reason_and_cancels_fulfilment():
    order = OrderFactory()
    with pytest.raises(DomainError, match=transitions.REASON_REQUIRED):
        transitions.order_cancel(order=order, actor=None, reason="")
    transitions.order_cancel(order=order, actor=None, reason="Duplicate")
    order.refresh_from_db()
    assert (order.status, order.fulfillment_status) == (O.CANCELLED, FulfillmentStatus.CANCELLED)
    assert order.status_reason == "Duplicate"
