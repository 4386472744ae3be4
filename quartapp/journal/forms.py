"""The entry form, shared by compose (home page) and edit."""

from __future__ import annotations

from typing import Any

from wtforms import Form, RadioField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, ValidationError

from quartapp.forms import strip
from quartapp.models import PRIVATE, PUBLIC

TITLE_MAX = 200
BODY_MAX = 20_000


class EntryForm(Form):
    title = StringField(
        "Title (optional)",
        filters=[strip],
        validators=[Length(max=TITLE_MAX, message=f"Titles are at most {TITLE_MAX} characters.")],
    )
    body = TextAreaField(
        "Entry (Markdown)",
        validators=[
            InputRequired("Write something first."),
            Length(max=BODY_MAX, message=f"Entries are at most {BODY_MAX:,} characters."),
        ],
    )
    visibility = RadioField(
        "Who can read it",
        choices=[(PUBLIC, "Everyone"), (PRIVATE, "Only me")],
        default=PUBLIC,
        validate_choice=True,
    )

    def validate_body(self, field: Any) -> None:
        if not (field.data or "").strip():
            raise ValidationError("Write something first.")
