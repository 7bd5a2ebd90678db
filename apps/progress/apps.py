from django.apps import AppConfig


class ProgressConfig(AppConfig):
    name = "apps.progress"
    label = "progress"

    def ready(self):
        from apps.progress import handlers  # noqa: F401
