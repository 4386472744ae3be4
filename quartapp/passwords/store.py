"""Saved generator policies: a writer's named rules. Criteria only, never a password."""

from __future__ import annotations

import json

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.db import Database
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
    query = select(SavedPolicy).where(SavedPolicy.user_id == user_id).order_by(SavedPolicy.name_key)
    return list((await session.scalars(query)).all())


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
