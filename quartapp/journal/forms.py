"""The entry form, shared by compose (home page) and edit."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

from wtforms import Form, HiddenField, StringField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length, ValidationError

from quartapp.forms import strip
from quartapp.journal.store import EntryContent
from quartapp.models import PRIVATE, VISIBILITIES, utcnow

TITLE_MAX = 200
BODY_MAX = 20_000
# What a datetime-local input sends; seconds when the browser shows them.
LOCAL_TIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
# A clock a little ahead of the server's is not "the future".
CLOCK_SKEW = timedelta(minutes=5)


@functools.cache
def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def parse_written_at(text: str, zone_name: str, now: datetime) -> datetime:
    """The moment a writer typed, in their time zone (UTC without one): ValueError with
    the reason when it is not a date and time, or is in the future."""
    for layout in LOCAL_TIME_FORMATS:
        try:
            local = datetime.strptime(text, layout)
            break
        except ValueError:
            continue
    else:
        raise ValueError("Give the date and time as YYYY-MM-DD HH:MM.")
    zone = _zone(zone_name) if zone_name else UTC
    if zone is None:
        raise ValueError("Your browser sent a time zone this site does not know.")
    moment = local.replace(tzinfo=zone).astimezone(UTC)
    if moment > now + CLOCK_SKEW:
        raise ValueError("An entry cannot be written in the future.")
    if moment < EARLIEST:
        raise ValueError("An entry cannot be dated before 1900.")
    return moment


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
    written_at = StringField(
        "Written",
        filters=[strip],
        validators=[Length(max=32, message="Give the date and time as YYYY-MM-DD HH:MM.")],
    )
    # The writer's time zone, from the page (static/time.js), for ``written_at``.
    time_zone = HiddenField(validators=[Length(max=64)])
    visibility = StringField(
        "Who can read it",
        default=PRIVATE,
        validators=[AnyOf(VISIBILITIES, "Choose 'public' or 'private'.")],
    )

    def validate_body(self, field: Any) -> None:
        if not (field.data or "").strip():
            raise ValidationError("Write something first.")

    def validate_written_at(self, field: Any) -> None:
        if field.data:
            try:
                parse_written_at(field.data, self.time_zone.data or "", utcnow())
            except ValueError as error:
                raise ValidationError(str(error)) from None

    def known_time_zone(self) -> str | None:
        """The writer's time zone as their browser named it, when it is a real one."""
        name = self.time_zone.data or ""
        return name if name and _zone(name) is not None else None

    def written_moment(self) -> datetime | None:
        """``written_at`` in UTC, once validated; None when left empty."""
        if not self.written_at.data:
            return None
        return parse_written_at(self.written_at.data, self.time_zone.data or "", utcnow())

    def content(self, body_html: str) -> EntryContent:
        """What the writer set, once validated, with the body as rendered."""
        return EntryContent(
            self.title.data or "",
            self.body.data or "",
            self.visibility.data or PRIVATE,
            body_html,
            self.written_moment(),
        )
