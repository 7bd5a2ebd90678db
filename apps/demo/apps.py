from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Reference and demo seeding (`manage.py seed_rules`, `manage.py seed_demo`): the top
    floor of the house, allowed to import every app; nothing imports it."""

    name = "apps.demo"
    label = "demo"
