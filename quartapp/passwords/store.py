"""Saved generator policies: a writer's named rules. Criteria only, never a password."""

from __future__ import annotations

import json

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.db import Database
from quartapp.models import SavedPolicy, User, utcnow
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


async def create_policy(db: Database, user_id: int, name: str, request: GeneratorRequest) -> int:
    now = utcnow()
    policy = SavedPolicy(
        user_id=user_id,
        name=name,
        name_key=name_key(name),
        criteria=criteria_json(request),
        created_at=now,
        updated_at=now,
    )
    try:
        async with db.transaction() as session:
            # The user's row, locked, serializes their saves on PostgreSQL, so two at once
            # cannot both pass the count below (SQLite's writers are serialized anyway).
            await session.execute(select(User.id).where(User.id == user_id).with_for_update())
            owned = await session.scalar(select(func.count()).where(SavedPolicy.user_id == user_id))
            if (owned or 0) >= MAX_POLICIES_PER_USER:
                raise TooManyPoliciesError()
            session.add(policy)
    except IntegrityError:
        raise DuplicateNameError() from None
    return policy.id


async def update_policy(db: Database, policy_id: int, name: str, request: GeneratorRequest) -> None:
    try:
        async with db.transaction() as session:
            await session.execute(
                update(SavedPolicy)
                .where(SavedPolicy.id == policy_id)
                .values(
                    name=name,
                    name_key=name_key(name),
                    criteria=criteria_json(request),
                    updated_at=utcnow(),
                )
            )
    except IntegrityError:
        raise DuplicateNameError() from None


async def delete_policy(db: Database, policy_id: int) -> None:
    async with db.transaction() as session:
        await session.execute(delete(SavedPolicy).where(SavedPolicy.id == policy_id))
