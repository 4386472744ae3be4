"""The entry form, shared by compose (home page) and edit."""

from __future__ import annotations

from typing import Any

from wtforms import Form, StringField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length, ValidationError

from quartapp.forms import strip
from quartapp.journal.store import EntryContent
from quartapp.models import PUBLIC, VISIBILITIES

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
    visibility = StringField(
        "Who can read it",
        default=PUBLIC,
        validators=[AnyOf(VISIBILITIES, "Choose 'public' or 'private'.")],
    )

    def validate_body(self, field: Any) -> None:
        if not (field.data or "").strip():
            raise ValidationError("Write something first.")

    def content(self, body_html: str) -> EntryContent:
        """What the writer set, once validated, with the body as rendered."""
        return EntryContent(
            self.title.data or "", self.body.data or "", self.visibility.data or PUBLIC, body_html
        )
