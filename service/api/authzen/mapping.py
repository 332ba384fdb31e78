"""AuthZEN requests as mcp-pdp's: the subject as an Identity, action and resource as an Action.

The mapping follows the COAZ MCP binding's defaults (docs/authzen.md has the
table): `action.name` is the MCP method; the resource is the tool
(`{type: "tool", id: <name>}`), the resource URI (`resource`), the prompt
(`prompt`), the task (`task`) or the MCP server itself (`mcp_server`, whose id
is the gateway). What the binding leaves open, and mcp-pdp chose:

- the tool's arguments are `resource.properties.arguments`; without them a
  `tools/call` is asked at medium grain (could some call be allowed?);
- the gateway of a tool, resource or prompt is `resource.properties.mcp_server`;
- `subject.properties` are the user's token claims (`sub` is `subject.id`), or
  `{"token": "<raw access token>"}`, verified here;
- the agent is `context.agent`; `context.source_ip` and `context.session_id` are
  the request facts `/v1/decisions` takes in its `context`.

A request that maps to no MCP request is a deny with a code, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.api.authzen.models import ActionName, Resource, Subject
from service.decide.outcome import Outcome
from service.decide.service import Listing
from service.engine.errors import InvalidArguments
from service.engine.methods import (
    DISCOVERY,
    METHOD_GROUPS,
    NOTIFICATIONS,
    RESOURCES,
    SERVER_REQUESTS,
    TASKS,
    TOOL_CALL,
)
from service.engine.model import Action
from service.identity.claims import InvalidToken
from service.identity.resolver import Identity

DEFAULT_GATEWAY = "default"
GATEWAY_LENGTH = 128  # as a gateway name is logged and stored
FACT_LENGTHS = {"source_ip": 64, "session_id": 256}  # as /v1/decisions takes them
SUBJECT_TYPES = frozenset({"identity", "user"})  # the COAZ binding's, and AuthZEN's examples'


@dataclass(frozen=True)
class ToolQuery:
    """A `tools/call` without arguments: could some call to this tool be allowed?"""

    tool: str
    gateway: str
    facts: dict[str, Any] = field(default_factory=dict)


def sends_claims(subject: Subject) -> bool:
    """Whether the subject is asserted by the caller (claims), not proven by a token."""
    return "token" not in (subject.properties or {})


def identity_of(subject: Subject, context: dict[str, Any] | None) -> Identity:
    """The user behind the subject; InvalidToken when its members disagree.

    With `properties.token` the token alone says who the user is (and which
    client), and the other properties are not read.
    """
    properties = dict(subject.properties or {})
    if "token" in properties:
        token = properties["token"]
        if not isinstance(token, str):
            raise InvalidToken("subject.properties.token must be a string")
        return Identity(token=token)
    claims = properties
    if claims.setdefault("sub", subject.id) != subject.id:
        raise InvalidToken("subject.id and the claim `sub` name different users")
    agent = (context or {}).get("agent")
    if isinstance(agent, str) and agent:
        client = claims.get("client_id", claims.get("azp"))
        if client is None:
            claims["client_id"] = agent
        elif client != agent:
            raise InvalidToken("context.agent is not the client the claims name")
    return Identity(claims=claims)


def gateway_of(resource: Resource | None, properties: dict[str, Any] | None = None) -> str:
    """The gateway: an `mcp_server` resource's id, else `properties.mcp_server`, else default."""
    if resource is not None and resource.type == "mcp_server":
        name: Any = resource.id
    else:
        name = (properties or {}).get("mcp_server", DEFAULT_GATEWAY)
    if not isinstance(name, str) or not 0 < len(name) <= GATEWAY_LENGTH:
        raise InvalidArguments(f"the MCP server must be named by 1-{GATEWAY_LENGTH} characters")
    return name


def facts_of(context: dict[str, Any] | None) -> dict[str, str]:
    """`source_ip` and `session_id` from the context; InvalidArguments when malformed."""
    facts = {}
    for name, length in FACT_LENGTHS.items():
        value = (context or {}).get(name)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > length:
            raise InvalidArguments(
                f"context.{name} must be a string of at most {length} characters"
            )
        facts[name] = value
    return facts


def mcp_action(method: str, gateway: str, facts: dict[str, str], **fields: Any) -> Action:
    """The engine's Action for a method on a gateway, with the request facts."""
    return Action(
        method,
        gateway=gateway,
        source_ip=facts.get("source_ip"),
        session_id=facts.get("session_id"),
        **fields,
    )


def call_of(
    action: ActionName, resource: Resource, context: dict[str, Any] | None
) -> Action | ToolQuery:
    """The MCP request an evaluation describes; InvalidArguments when it describes none."""
    properties = resource.properties or {}
    gateway = gateway_of(resource, properties)
    facts = facts_of(context)
    named = {resource.type: resource.id}
    if action.name == TOOL_CALL:
        tool = named.get("tool")
        arguments = properties.get("arguments") if tool is not None else None
        if tool is not None and arguments is None:
            return ToolQuery(tool, gateway, facts)
        if arguments is not None and not isinstance(arguments, dict):
            raise InvalidArguments("resource.properties.arguments must be an object")
        return mcp_action(TOOL_CALL, gateway, facts, tool=tool, arguments=arguments)
    return mcp_action(
        action.name, gateway, facts, uri=named.get("resource"), prompt=named.get("prompt")
    )


def _methods_on() -> dict[str, tuple[str, ...]]:
    """Resource type → the client-to-server methods that act on one (the binding's table)."""
    on: dict[str, list[str]] = {"mcp_server": [], "resource": [], "prompt": [], "task": []}
    for method, groups in METHOD_GROUPS.items():
        if method == TOOL_CALL or NOTIFICATIONS in groups or SERVER_REQUESTS in groups:
            continue
        if method == "completion/complete":
            on["resource"].append(method)
            on["prompt"].append(method)
        elif RESOURCES in groups:
            on["resource"].append(method)
        elif method == "prompts/get":
            on["prompt"].append(method)
        elif TASKS in groups and DISCOVERY not in groups:
            on["task"].append(method)
        else:
            on["mcp_server"].append(method)
    return {kind: tuple(sorted(methods)) for kind, methods in on.items()}


METHODS_ON = _methods_on()


def decision_answer(outcome: Outcome) -> dict[str, Any]:
    """An AuthZEN decision for a decided call, its provenance in the context."""
    decision = outcome.decision
    context: dict[str, Any] = {
        "decision_id": outcome.decision_id,
        "policy_version": decision.policy_version,
        "reasons": list(decision.reasons),
        "errors": list(decision.errors),
        "required_scopes": list(decision.required_scopes),
    }
    if decision.code is not None:  # AuthZEN: members without a value are left out
        context["code"] = decision.code
    return {"decision": decision.allowed, "context": context}


def listing_answers(listing: Listing) -> list[dict[str, Any]]:
    """AuthZEN decisions for tools asked without arguments, one per verdict, `partial` set."""
    answers = []
    for verdict in listing.verdicts:
        context: dict[str, Any] = {
            "decision_id": listing.decision_id,
            "policy_version": listing.policy_version,
            "reasons": list(verdict.reasons),
            "errors": [],
            "required_scopes": [],
            "partial": True,
        }
        if verdict.code is not None:
            context["code"] = verdict.code
        answers.append({"decision": verdict.listed, "context": context})
    return answers
