from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "apps.orders"
    label = "orders"

    def ready(self):
        from apps.orders import handlers  # noqa: F401
        from apps.orders.saga import recovery  # noqa: F401
