"""The role/attribute database: typed SQLAlchemy 2 ORM."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAME = 128  # role, tool and attribute names
PRINCIPAL_ID = 256

naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with stable constraint names for migrations."""

    metadata = MetaData(naming_convention=naming_convention)


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Role(Base):
    """A named role; may inherit other roles."""

    __tablename__ = "roles"
    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = _now()


class RoleParent(Base):
    """`role` inherits everything `parent` grants."""

    __tablename__ = "role_parents"
    role: Mapped[str] = mapped_column(
        ForeignKey("roles.name", ondelete="CASCADE"), primary_key=True
    )
    parent: Mapped[str] = mapped_column(
        ForeignKey("roles.name", ondelete="CASCADE"), primary_key=True, index=True
    )


class Principal(Base):
    """A user known to the database (by the principal id decisions use)."""

    __tablename__ = "principals"
    id: Mapped[str] = mapped_column(String(PRINCIPAL_ID), primary_key=True)
    created_at: Mapped[datetime] = _now()


class RoleAssignment(Base):
    """A principal holds a role, optionally until `expires_at`."""

    __tablename__ = "role_assignments"
    principal_id: Mapped[str] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(
        ForeignKey("roles.name", ondelete="CASCADE"), primary_key=True, index=True
    )
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = _now()


class PrincipalAttribute(Base):
    """One typed attribute of a principal (JSON keeps the value's type)."""

    __tablename__ = "principal_attributes"
    principal_id: Mapped[str] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class Tool(Base):
    """One tool of the registry, as the gateway lists it."""

    __tablename__ = "tools"
    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    input_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSON)
    tags: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class DecisionLogRow(Base):
    """One decision, as the decision log records it (no tokens, redacted arguments)."""

    __tablename__ = "decision_log"
    decision_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    principal_id: Mapped[str | None] = mapped_column(String(PRINCIPAL_ID), index=True)
    issuer: Mapped[str] = mapped_column(Text, default="")
    client_id: Mapped[str] = mapped_column(Text, default="")
    method: Mapped[str] = mapped_column(String(NAME))
    tool: Mapped[str | None] = mapped_column(String(NAME), index=True)
    gateway: Mapped[str] = mapped_column(String(NAME))
    decision: Mapped[str] = mapped_column(String(8), index=True)
    code: Mapped[str | None] = mapped_column(String(32))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    shadow: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    policy_version: Mapped[str] = mapped_column(String(80))
    cached: Mapped[bool] = mapped_column(default=False)
    latency_us: Mapped[int] = mapped_column()
    caller: Mapped[str | None] = mapped_column(String(NAME))
    request_id: Mapped[str | None] = mapped_column(String(128))
    argument_names: Mapped[list[str]] = mapped_column(JSON)
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON)


class ApiKey(Base):
    """A caller key: `decide` for interceptors, `admin` for the admin API. Only a hash is kept."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), default="")
    scope: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64))
    trusted_claims: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(PRINCIPAL_ID), default="")
    created_at: Mapped[datetime] = _now()


class AuditEntry(Base):
    """One admin write: who, when, what, and the target's state before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target_kind", "target"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(PRINCIPAL_ID), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target_kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(PRINCIPAL_ID))
    before: Mapped[Any | None] = mapped_column(JSON)
    after: Mapped[Any | None] = mapped_column(JSON)


class DataGeneration(Base):
    """A token that changes with every committed write to its scope (the whole store or
    one principal); decision cache keys carry it, so a write retires every answer before it."""

    __tablename__ = "data_generations"
    scope: Mapped[str] = mapped_column(String(PRINCIPAL_ID + 16), primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
