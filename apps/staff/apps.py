from django.apps import AppConfig


class StaffConfig(AppConfig):
    """The staff workspace: the home page per role and the merchant hub every other staff page
    links to. The top floor for staff: it reads from every domain app and no app imports it
    (other pages link to it by URL name only)."""

    name = "apps.staff"
    label = "staff"
