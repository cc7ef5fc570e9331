"""The repositories list as a typical team writes it: FastAPI + SQLAlchemy ORM (AsyncSession) + Pydantic.

Same JWT check, same caller lookup, same SQL result and JSON shape as the product's endpoint.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bench.twins.common import PAGE, Unauthorized, user_id_from


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    email: Mapped[str]
    display_name: Mapped[str]
    role: Mapped[str]
    status: Mapped[str]


class Repository(Base):
    __tablename__ = "repositories"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    host: Mapped[str]
    full_name: Mapped[str]
    default_branch: Mapped[str]
    visibility: Mapped[str]
    html_url: Mapped[str]
    auto_review: Mapped[bool]
    default_model_id: Mapped[uuid.UUID | None]
    default_base_branch: Mapped[str | None]
    test_command: Mapped[str | None]
    head_sha: Mapped[str | None]
    last_pushed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class Access(Base):
    __tablename__ = "user_repository_access"
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    repository_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    permission: Mapped[str]


class Webhook(Base):
    __tablename__ = "repository_webhooks"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    repository_id: Mapped[uuid.UUID]


class SettingsOut(BaseModel):
    auto_review: bool
    default_model_id: uuid.UUID | None
    default_base_branch: str | None
    test_command: str | None


class RepositoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    host: str
    full_name: str
    default_branch: str
    visibility: str
    html_url: str
    permission: str
    webhook_active: bool
    settings: SettingsOut
    head_sha: str | None
    last_pushed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ListOut(BaseModel):
    source: Literal["connected"] = "connected"
    items: list[RepositoryOut]
    next_cursor: str | None


engine = create_async_engine(os.environ["DATABASE_URL"], pool_size=10, max_overflow=10)
Session = async_sessionmaker(engine, expire_on_commit=False)
app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


async def session() -> AsyncIterator[AsyncSession]:
    async with Session() as s:
        yield s


async def current_user(
    db: Annotated[AsyncSession, Depends(session)], authorization: Annotated[str | None, Header()] = None
) -> User:
    try:
        user_id = user_id_from(authorization)
    except Unauthorized as exc:
        raise HTTPException(401, "invalid_token") from exc
    user = await db.get(User, user_id)
    if user is None or user.status != "active":
        raise HTTPException(401, "invalid_token")
    return user


@app.get("/api/v1/repositories", response_model=ListOut)
async def list_repositories(
    user: Annotated[User, Depends(current_user)], db: Annotated[AsyncSession, Depends(session)]
) -> ListOut:
    has_webhook = sa.exists().where(Webhook.repository_id == Repository.id).label("has_webhook")
    query = (
        sa.select(Repository, Access.permission, has_webhook)
        .join(Access, Access.repository_id == Repository.id)
        .where(Access.user_id == user.id)
        .order_by(Repository.id.desc())
        .limit(PAGE + 1)
    )
    rows = (await db.execute(query)).all()
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    items = [
        RepositoryOut(
            id=repo.id,
            host=repo.host,
            full_name=repo.full_name,
            default_branch=repo.default_branch,
            visibility=repo.visibility,
            html_url=repo.html_url,
            permission=permission,
            webhook_active=bool(webhook),
            settings=SettingsOut(
                auto_review=repo.auto_review,
                default_model_id=repo.default_model_id,
                default_base_branch=repo.default_base_branch,
                test_command=repo.test_command,
            ),
            head_sha=repo.head_sha,
            last_pushed_at=repo.last_pushed_at,
            created_at=repo.created_at,
            updated_at=repo.updated_at,
        )
        for repo, permission, webhook in rows
    ]
    return ListOut(items=items, next_cursor=str(rows[-1][0].id) if more and rows else None)


@app.get("/health/ready")
async def ready() -> dict[str, str]:
    return {"status": "ok"}


def create() -> FastAPI:
    return app
