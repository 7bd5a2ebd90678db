"""The orders app's services (the writes), one module per use case:

    quotes       pricing a selection, building and saving quotes (steps 4-5), the merchant
                 accepting one, the AE's quote emailed to the merchant
    checkout     the checkout form (step 6): billing address, then the charge (order_pay),
                 which starts the purchase saga (apps.orders.saga) once paid
    transitions  each Order and OrderItem transition (paid, hardware ordered, shipped,
                 delivered, activated, cancelled, refunded)
    payments     each Payment transition, mirrored on the order's payment status
    shipments    each HardwareShipment transition, the carrier's tracking applied, and the
                 order's fulfilment following its shipments
    journey      the merchant's onboarding steps 4-6 completed as the purchase goes on

Dependencies run one way: quotes and checkout use the others; the saga uses transitions,
payments, shipments and journey; none of those imports the saga's runner or checkout.
"""
