"""The audit timeline in words (issue 14, item 8): a history row's changed fields said with
their labels ("KYB status", not `kyb_status`) and values (choice labels, names of related
objects, yes/no, times in the viewer's zone) instead of raw values and ids.

`FieldWords(historical_model)` reads the model's fields once; `related_names(...)` looks up
the names of every related object the changes mention with one query per related model."""

from datetime import date, datetime

from django.db import models
from django.utils.text import capfirst

from apps.core.templatetags.times import when_text

EMPTY = "—"
VALUE_LIMIT = 80


def _short(text: str) -> str:
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"


class FieldWords:
    def __init__(self, model):
        self.fields = {f.attname: f for f in model._meta.concrete_fields}

    def label(self, attname: str) -> str:
        field = self.fields.get(attname)
        if field is None:
            return attname
        name = str(field.verbose_name)
        if isinstance(field, models.ForeignKey) and name.endswith(" id"):
            name = name[:-3]
        return capfirst(name)

    def related_model(self, attname: str):
        field = self.fields.get(attname)
        return field.related_model if isinstance(field, models.ForeignKey) else None

    def value(self, attname: str, value, names: dict) -> str:
        if value in (None, ""):
            return EMPTY
        field = self.fields.get(attname)
        if field is not None and field.choices:
            return _short(str(dict(field.flatchoices).get(value, value)))
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, datetime):
            return when_text(value)
        if isinstance(value, date):
            return f"{value:%Y-%m-%d}"
        related = self.related_model(attname)
        if related is not None:
            return _short(
                names.get((related, str(value)), f"{related._meta.verbose_name} (removed)")
            )
        return _short(str(value))


def related_names(pairs) -> dict:
    """{(model, str(pk)): str(object)} for `pairs` of (model, pk): one query per model."""
    by_model: dict = {}
    for model, pk in pairs:
        if pk not in (None, ""):
            by_model.setdefault(model, set()).add(pk)
    names = {}
    for model, pks in by_model.items():
        for obj in model._base_manager.filter(pk__in=pks):
            names[(model, str(obj.pk))] = str(obj)
    return names


def event_words(event_type: str) -> str:
    """'merchant.verification_email_requested' → 'Verification email requested'."""
    name = event_type.rsplit(".", 1)[-1].replace("_", " ")
    return capfirst(name)
