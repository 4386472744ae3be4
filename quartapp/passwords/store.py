"""Saved generator policies: a writer's named rules. Criteria only, never a password.

Every function takes the session first: the request's read session for reads, the write
transaction (``Database.transaction``) for writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.accounts.store import lock_user
from quartapp.models import SavedPolicy, utcnow
from quartapp.passwords.schema import GeneratorRequest, from_json

MAX_POLICIES_PER_USER = 200


class DuplicateNameError(Exception):
    """The user already has a policy of that name (ignoring case)."""


class TooManyPoliciesError(Exception):
    pass


def name_key(name: str) -> str:
    return name.casefold()


def criteria_json(request: GeneratorRequest) -> str:
    return json.dumps(request.as_fields(), sort_keys=True, ensure_ascii=False)


def criteria_of(policy: SavedPolicy) -> GeneratorRequest:
    """The saved criteria, checked again: rules may have tightened since it was saved."""
    return from_json(json.loads(policy.criteria))


async def list_policies(session: AsyncSession, user_id: int) -> list[SavedPolicy]:
    """By name, in code point order: the database's collation (SQLite's bytes, PostgreSQL's
    locale, which skips punctuation) would give each database its own order."""
    query = select(SavedPolicy).where(SavedPolicy.user_id == user_id)
    return sorted((await session.scalars(query)).all(), key=lambda policy: policy.name_key)


async def get_policy(session: AsyncSession, policy_id: int) -> SavedPolicy | None:
    return await session.get(SavedPolicy, policy_id)


async def create_policy(
    session: AsyncSession, user_id: int, name: str, request: GeneratorRequest
) -> SavedPolicy:
    await lock_user(session, user_id)  # two saves at once cannot both pass the count
    owned = await session.scalar(select(func.count()).where(SavedPolicy.user_id == user_id))
    if (owned or 0) >= MAX_POLICIES_PER_USER:
        raise TooManyPoliciesError()
    now = utcnow()
    policy = SavedPolicy(
        user_id=user_id,
        name=name,
        name_key=name_key(name),
        criteria=criteria_json(request),
        created_at=now,
        updated_at=now,
    )
    await _saved(session, lambda: session.add(policy))
    return policy


async def update_policy(
    session: AsyncSession, policy_id: int, name: str, request: GeneratorRequest
) -> SavedPolicy | None:
    """The policy as changed; None when it was deleted meanwhile."""
    found = await session.get(SavedPolicy, policy_id, with_for_update=True)
    if found is None:
        return None
    policy = found

    def change() -> None:
        policy.name = name
        policy.name_key = name_key(name)
        policy.criteria = criteria_json(request)
        policy.updated_at = utcnow()

    await _saved(session, change)
    return policy


async def _saved(session: AsyncSession, change: Callable[[], None]) -> None:
    """Make the change in a savepoint: a name the user already has (the unique index says
    so) becomes ``DuplicateNameError`` and leaves the transaction usable."""
    try:
        async with session.begin_nested():
            change()
    except IntegrityError:
        raise DuplicateNameError() from None


async def delete_policy(session: AsyncSession, policy_id: int) -> None:
    await session.execute(delete(SavedPolicy).where(SavedPolicy.id == policy_id))
