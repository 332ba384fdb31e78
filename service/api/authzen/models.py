"""AuthZEN 1.0 request bodies: receivers ignore unknown fields, required ones are checked.

Every model ignores members it does not know (AuthZEN's extensibility rule);
what JSON itself allows but mcp-pdp refuses (NUL, lone surrogates, duplicate
keys) is refused before these models see the body (`JsonRoute`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AUTHZEN = ConfigDict(extra="ignore")
ID_LENGTH = 4096  # a resource id may be a URI
NAME_LENGTH = 128


class Subject(BaseModel):
    """Who asks: `properties` are the user's token claims (or `token`, the raw token)."""

    model_config = AUTHZEN

    type: str = Field(min_length=1, max_length=NAME_LENGTH)
    id: str = Field(min_length=1, max_length=ID_LENGTH)
    properties: dict[str, Any] | None = None


class Resource(BaseModel):
    """What is acted on: a tool, a resource URI, a prompt, a task or the MCP server."""

    model_config = AUTHZEN

    type: str = Field(min_length=1, max_length=NAME_LENGTH)
    id: str = Field(min_length=1, max_length=ID_LENGTH)
    properties: dict[str, Any] | None = None


class Kind(BaseModel):
    """The entity a search looks for: its type; an `id` is ignored."""

    model_config = AUTHZEN

    type: str = Field(min_length=1, max_length=NAME_LENGTH)
    properties: dict[str, Any] | None = None


class ActionName(BaseModel):
    """The MCP method."""

    model_config = AUTHZEN

    name: str = Field(min_length=1, max_length=NAME_LENGTH)
    properties: dict[str, Any] | None = None


class Evaluation(BaseModel):
    """One access evaluation request."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "subject": {"type": "identity", "id": "alice", "properties": {"sub": "alice"}},
                    "action": {"name": "tools/call"},
                    "resource": {
                        "type": "tool",
                        "id": "docs___search",
                        "properties": {"arguments": {"query": "quarterly revenue"}},
                    },
                    "context": {"agent": "https://agents.example.com/app-1"},
                }
            ]
        },
    )

    subject: Subject
    action: ActionName
    resource: Resource
    context: dict[str, Any] | None = None


Semantic = Literal["execute_all", "deny_on_first_deny", "permit_on_first_permit"]


class Options(BaseModel):
    """Evaluation options; other members are the PEP's own metadata."""

    model_config = AUTHZEN

    evaluations_semantic: Semantic = "execute_all"


class Evaluations(BaseModel):
    """Many evaluations; the top-level members are each item's defaults."""

    model_config = AUTHZEN

    subject: Subject | None = None
    action: ActionName | None = None
    resource: Resource | None = None
    context: dict[str, Any] | None = None
    # Items are checked one by one: a bad item is a deny for that item only.
    evaluations: list[Any] | None = None
    options: Options | None = None


class Page(BaseModel):
    """Pagination: the previous answer's `next_token`, and how many results at most."""

    model_config = AUTHZEN

    token: str | None = Field(default=None, max_length=1024)
    limit: int | None = Field(default=None, ge=0)
    properties: dict[str, Any] | None = None


class SubjectSearch(BaseModel):
    """Which subjects of a type may do this action on this resource."""

    model_config = AUTHZEN

    subject: Kind
    action: ActionName
    resource: Resource
    context: dict[str, Any] | None = None
    page: Page | None = None


class ResourceSearch(BaseModel):
    """Which resources of a type this subject may do this action on."""

    model_config = AUTHZEN

    subject: Subject
    action: ActionName
    resource: Kind
    context: dict[str, Any] | None = None
    page: Page | None = None


class ActionSearch(BaseModel):
    """Which actions this subject may do on this resource."""

    model_config = AUTHZEN

    subject: Subject
    resource: Resource
    context: dict[str, Any] | None = None
    page: Page | None = None
