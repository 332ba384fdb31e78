"""Request and response bodies of the admin API (`/admin/v1`)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel, field_validator

# Role names: what `service.store.roles.ROLE_NAME` accepts.
ROLE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@\-]{0,127}$"
# Principal ids are token subjects (maybe prefixed `issuer|`): any printable text but `/`.
PRINCIPAL_PATTERN = r"^[^\x00-\x1f\x7f/]{1,256}$"
ATTRIBUTE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
MAX_TEXT = 1024
MAX_PARENTS = 64
MAX_ATTRIBUTE_CHANGES = 64

RoleName = Annotated[str, Field(pattern=ROLE_PATTERN, max_length=128)]
RolePath = Annotated[str, Path(pattern=ROLE_PATTERN, max_length=128, examples=["analyst"])]
PrincipalPath = Annotated[str, Path(pattern=PRINCIPAL_PATTERN, max_length=256, examples=["alice"])]


class RoleIn(BaseModel):
    """A role's description and the roles it inherits (replaced whole)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"description": "Reads documents and data", "parents": ["employee"]}]
        },
    )

    description: str = Field(default="", max_length=MAX_TEXT)
    parents: list[RoleName] = Field(default_factory=list, max_length=MAX_PARENTS)


class RoleOut(BaseModel):
    """A role and its direct parents."""

    name: str
    description: str
    parents: list[str]


class RolePage(BaseModel):
    """Roles by name; pass `next_after` as `after` for the next page."""

    roles: list[RoleOut]
    next_after: str | None


class AssignmentIn(BaseModel):
    """An assignment's optional expiry (with a time zone) and reason."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"expires_at": "2027-01-01T00:00:00Z", "reason": "ticket OPS-42"}]
        },
    )

    expires_at: AwareDatetime | None = None
    reason: str = Field(default="", max_length=MAX_TEXT)


class RoleHeld(BaseModel):
    """One role a principal holds; `active` is false once `expires_at` has passed."""

    role: str
    expires_at: datetime | None
    active: bool
    reason: str


class PrincipalOut(BaseModel):
    """What the database holds for a principal."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "alice",
                    "roles": [
                        {"role": "analyst", "expires_at": None, "active": True, "reason": "demo"}
                    ],
                    "attributes": {"department": "finance", "clearance": 3},
                }
            ]
        }
    )

    id: str
    roles: list[RoleHeld]
    attributes: dict[str, Any]


class AttributeChanges(RootModel[dict[str, Any]]):
    """Attribute name → new value, or null to remove it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"department": "finance", "clearance": 3, "region": None}]}
    )

    @field_validator("root")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise ValueError("give at least one attribute")
        if len(value) > MAX_ATTRIBUTE_CHANGES:
            raise ValueError(f"at most {MAX_ATTRIBUTE_CHANGES} attributes per request")
        for name in value:
            if not re.fullmatch(ATTRIBUTE_PATTERN, name):
                raise ValueError(f"attribute name {name[:130]!r}: A-Z a-z 0-9 _, at most 128")
        return value


class ToolsOut(BaseModel):
    """The registry as a `tools/list` result, plus each tool's action groups."""

    tools: list[dict[str, Any]]
    policy_version: str | None


class PolicyStatus(BaseModel):
    """The active policy set and the last load error (null after a good load)."""

    version: str | None
    policies: list[str]
    tools: int
    last_error: str | None


class AuditOut(BaseModel):
    """One audited write."""

    id: int
    at: datetime
    actor: str
    action: str
    target_kind: str
    target: str
    before: Any
    after: Any


class AuditPage(BaseModel):
    """Audit rows, newest first; pass `next_cursor` as `cursor` for older rows."""

    entries: list[AuditOut]
    next_cursor: int | None


class KeyIn(BaseModel):
    """A new API key: `decide` for interceptors, `admin` for the admin API."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "agentcore-interceptor", "scope": "decide", "trusted_claims": True}
            ]
        },
    )

    name: str = Field(min_length=1, max_length=128, pattern=r"^[\x20-\x7e]+$")
    scope: Literal["decide", "admin"]
    trusted_claims: bool = False


class KeyOut(BaseModel):
    """A key without its secret."""

    id: str
    name: str
    scope: str
    trusted_claims: bool
    created_by: str
    created_at: datetime


class KeyCreated(KeyOut):
    """A new key; `key` is shown this once and stored only as a hash."""

    key: str
