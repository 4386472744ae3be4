"""SQLAlchemy 2 typed models. The schema itself comes only from the Alembic migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PUBLIC = "public"
PRIVATE = "private"
VISIBILITIES = (PUBLIC, PRIVATE)
MAX_ID = 2**31 - 1  # ids are 32-bit INTEGER on PostgreSQL


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always gives back aware UTC datetimes.

    SQLite has no time zones: without this a value written aware comes back naive.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"
    __table_args__ = ({"sqlite_autoincrement": True},)  # ids are never reused (live events)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(32))
    # Lower-cased copies make "unique ignoring case" one plain unique index on any database.
    username_key: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    about: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # None until the owner followed the link sent to the address (only when mail is set up).
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Who can read a new entry unless the writer says otherwise: a journal is private first.
    default_visibility: Mapped[str] = mapped_column(
        String(10), default=PRIVATE, server_default=PRIVATE
    )
    # The writer's time zone (an IANA name, like "Europe/Berlin"), as their browser last
    # gave it when they wrote: their archive's days are theirs. Empty: UTC.
    time_zone: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # Two-factor sign-in (quartapp/twofactor/). The authenticator app's secret is set
    # when enrolment starts and counts once ``totp_enabled_at`` is set by a first code;
    # ``totp_last_step`` is the newest time step used, so no code works twice.
    totp_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # The random id passkeys hold for the account (WebAuthn's user handle), never its id.
    passkey_user_handle: Mapped[bytes | None] = mapped_column(
        LargeBinary(64), unique=True, default=None
    )


class RecoveryCode(Base):
    """A single-use code to pass the second step without the app: only its SHA-256."""

    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))


class Upload(Base):
    """An image a writer uploaded: stored as ``name`` (random) by ``uploads.storage``."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EntryImage(Base):
    """An entry shows an uploaded image (kept as the entry is saved): who may see the
    image follows who may read the entries that show it."""

    __tablename__ = "entry_images"

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True
    )
    upload_id: Mapped[int] = mapped_column(
        ForeignKey("uploads.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class EntryVersion(Base):
    """What an entry said before one of its edits: kept so an edit can be undone."""

    __tablename__ = "entry_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(10))
    # When this text was saved (the entry's creation or an earlier edit), and when an edit
    # replaced it.
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Draft(Base):
    """What a writer is typing into one box, saved as they type: the compose box
    (``entry_id`` None) or the edit box of one of their entries. Private to the writer,
    never a live event."""

    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(32))  # "compose" or "entry-<id>"
    entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("entries.id", ondelete="CASCADE"), index=True, default=None
    )
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(10), default="")
    # The box's "Written" field as typed (in the writer's zone, read only when posted).
    written_at: Mapped[str] = mapped_column(String(32), default="", server_default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Passkey(Base):
    """A WebAuthn credential of an account: its public key, never anything secret."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(1023))
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(64))
    transports: Mapped[str] = mapped_column(String(200), default="")  # comma-separated hints
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Entry(Base):
    __tablename__ = "entries"
    __table_args__ = (
        CheckConstraint("visibility IN ('public', 'private')", name="visibility"),
        # Pages list entries by when they were written, newest first, along these.
        Index("ix_entries_visibility_written_at_id", "visibility", "written_at", "id"),
        Index("ix_entries_author_id_written_at_id", "author_id", "written_at", "id"),
        Index(
            "ix_entries_author_id_visibility_written_at_id",
            "author_id",
            "visibility",
            "written_at",
            "id",
        ),
        {"sqlite_autoincrement": True},  # ids are never reused: events and pages name them
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(10), default=PUBLIC)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the writer says it was written (a day's entry written the next morning); at
    # most now. Pages are in this order; ``created_at`` stays when it was posted.
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    author: Mapped[User] = relationship(lazy="raise")

    @property
    def is_public(self) -> bool:
        return self.visibility == PUBLIC


class EntryTag(Base):
    """A ``#tag`` in an entry's text (quartapp/tags/), case folded; set whenever the entry
    is written, gone with it."""

    __tablename__ = "entry_tags"
    __table_args__ = (Index("ix_entry_tags_tag_entry_id", "tag", "entry_id"),)

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)


class Follow(Base):
    """A writer following another (quartapp/follows/): their public entries on the
    follower's ``/following``. Gone with either account."""

    __tablename__ = "follows"
    __table_args__ = (
        CheckConstraint("follower_id <> followed_id", name="not_oneself"),
        # Counting a writer's followers, and deleting an account, read it the other way.
        Index("ix_follows_followed_id_follower_id", "followed_id", "follower_id"),
    )

    follower_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    followed_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EventReader(Base):
    """How far a reader that works through the events table has read (``seq``, the last
    event it is done with): the search indexer (quartapp/search/indexer.py). Pruning never
    deletes an event a reader has not read yet."""

    __tablename__ = "event_readers"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)


class LoginSession(Base):
    """A revocable login: the cookie holds a random id, the table only its SHA-256."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Where it was started, for the owner's list of sessions (shown in words, masked).
    user_agent: Mapped[str | None] = mapped_column(String(300), default=None)
    client_address: Mapped[str | None] = mapped_column(String(64), default=None)

    user: Mapped[User] = relationship(lazy="raise")


class SavedPolicy(Base):
    """A writer's named generator rules. Criteria only: a password is never stored."""

    __tablename__ = "saved_policies"
    __table_args__ = (UniqueConstraint("user_id", "name_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    name_key: Mapped[str] = mapped_column(String(60))
    criteria: Mapped[str] = mapped_column(Text)  # JSON of the generator's fields
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(Base):
    """One change to an entry, for live updates: written in the same transaction as the
    change, numbered in commit order (``seq``), replayed to clients that missed it."""

    __tablename__ = "events"
    __table_args__ = ({"sqlite_autoincrement": True},)  # never reuse a seq after pruning

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # created, updated, deleted, sessions, renamed
    entry_id: Mapped[int | None] = mapped_column(Integer, default=None)
    author_id: Mapped[int] = mapped_column(Integer)
    public_before: Mapped[bool] = mapped_column(Boolean, default=False)
    public_after: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class OutboxMessage(Base):
    """An e-mail message to send: written in the same transaction as the change that causes
    it, deleted once delivered, and kept with ``failed_at`` if it never could be."""

    __tablename__ = "outbox"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(255))  # the same on every attempt
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # A sender claims a message until then; another takes it over if that one stopped.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class AccountToken(Base):
    """A link sent by e-mail (confirm an address, reset a password): the message holds the
    token, the table only its SHA-256; used once, then deleted."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # confirm, reset, email
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    new_email: Mapped[str | None] = mapped_column(String(254), default=None)  # purpose email
