"""Concurrent refreshes with one token against PostgreSQL: one winner at most, never a 500."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from asynccoder.adapters.crypto.jwt_tokens import JwtAccessTokenService
from asynccoder.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork
from asynccoder.adapters.system.clock import SystemClock
from asynccoder.adapters.system.ids import Uuid7Generator
from asynccoder.application.identity.sessions import (
    RefreshSession,
    RefreshSessionCommand,
    SessionIssuer,
    TokenPair,
)
from asynccoder.domain.errors import Unauthenticated
from tests.support.builders import make_user
from tests.support.identity import POLICY

TOKENS = JwtAccessTokenService(secret="s" * 40, issuer="i", audience="a", ttl=timedelta(minutes=15))


async def test_twenty_concurrent_refreshes_with_one_token_have_at_most_one_winner(
    postgres_engine: AsyncEngine,
) -> None:
    clock, ids = SystemClock(), Uuid7Generator()
    issuer = SessionIssuer(TOKENS, ids, POLICY)
    user = make_user()
    async with SqlAlchemyUnitOfWork(postgres_engine) as uow:
        await uow.users.add(user)
        pair = await issuer.issue(uow, user, now=clock.now())
        await uow.commit()

    async def refresh() -> TokenPair | Unauthenticated:
        try:
            return await RefreshSession(SqlAlchemyUnitOfWork(postgres_engine), issuer, clock)(
                RefreshSessionCommand(pair.refresh_token)
            )
        except Unauthenticated as exc:
            return exc

    results = await asyncio.gather(*(refresh() for _ in range(20)))

    winners = [r for r in results if isinstance(r, TokenPair)]
    assert len(winners) <= 1
    assert all(isinstance(r, TokenPair | Unauthenticated) for r in results)
    # Every loser counted as reuse, so the family is dead: the winner's new token fails too.
    for winner in winners:
        with pytest.raises(Unauthenticated):
            await RefreshSession(SqlAlchemyUnitOfWork(postgres_engine), issuer, clock)(
                RefreshSessionCommand(winner.refresh_token)
            )
