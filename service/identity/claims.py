"""Claims → Principal: id, attributes, tags, mapped roles and `context.token`."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from service.engine.errors import DecisionError
from service.engine.model import Principal, TokenInfo
from service.settings import IssuerSettings
from service.store.roles import ROLE_NAME

MAX_PRINCIPAL_ID = 256
MAX_TAG_VALUE = 4096
MAX_LONG = 2**63 - 1


class InvalidToken(DecisionError):
    """The token or claims cannot identify a principal."""

    code = "invalid_token"


class TokenExpired(InvalidToken):
    """The token's `exp` has passed."""

    code = "token_expired"


def _strings(value: Any) -> list[str]:
    """A claim holding one space-separated string or an array of strings."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _groups(value: Any) -> list[str]:
    """A roles claim: an array of group names, or one name as a string (never split)."""
    return [value] if isinstance(value, str) else _strings(value)


def _is_number(value: Any) -> bool:
    """Whether a claim is a usable NumericDate: a JSON number, neither bool, NaN nor infinite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    # Only floats can be NaN or infinite; an int too large for a float is still a number.
    return not isinstance(value, float) or math.isfinite(value)


def _epoch(value: Any) -> int:
    """A NumericDate claim as a Cedar Long; 0 when absent or not a finite number."""
    if not _is_number(value):
        return 0
    return max(0, min(int(value), MAX_LONG))


def check_times(claims: Mapping[str, Any], *, leeway: float, now: float) -> None:
    """Refuse claims past their `exp` or before their `nbf`, `leeway` seconds either way."""
    for name in ("exp", "nbf"):
        if name in claims and not _is_number(claims[name]):
            raise InvalidToken(f"claim {name!r} is not a number of seconds")
    if "exp" in claims and claims["exp"] <= now - leeway:
        raise TokenExpired("token has expired")
    if "nbf" in claims and claims["nbf"] > now + leeway:
        raise InvalidToken("token is not yet valid")


def _roles(claims: Mapping[str, Any], issuer: IssuerSettings) -> frozenset[str]:
    """Roles from the groups claim: mapped through `roles_map` when it is set."""
    groups = _groups(claims.get(issuer.roles_claim)) if issuer.roles_claim else []
    if issuer.roles_map:
        # An explicit map is an allow-list: an unmapped group grants nothing.
        groups = [issuer.roles_map[g] for g in groups if g in issuer.roles_map]
    return frozenset(g for g in groups if ROLE_NAME.fullmatch(g))


_UNSTORABLE = re.compile("[\0\ud800-\udfff]")


def _storable(text: str) -> bool:
    """No NUL and no lone surrogate: what every database and log sink accepts."""
    return _UNSTORABLE.search(text) is None


def principal_from_claims(claims: Mapping[str, Any], issuer: IssuerSettings) -> Principal:
    """Build the principal the claims describe; InvalidToken when they name none."""
    subject = claims.get(issuer.subject_claim)
    if not isinstance(subject, str) or not subject:
        raise InvalidToken(f"claim {issuer.subject_claim!r} must be a non-empty string")
    principal_id = f"{issuer.principal_prefix}|{subject}" if issuer.principal_prefix else subject
    if len(principal_id) > MAX_PRINCIPAL_ID:
        raise InvalidToken(f"principal id longer than {MAX_PRINCIPAL_ID} characters")
    if not _storable(principal_id):
        # A signed token may carry what request bodies may not: no database stores it.
        raise InvalidToken(f"claim {issuer.subject_claim!r} holds a NUL or a lone surrogate")

    attributes = {
        attribute: claims[claim]
        for claim, attribute in issuer.claims_to_attributes.items()
        if claim in claims
    }
    tags = {
        name: value
        for name, value in claims.items()
        if isinstance(value, str) and len(value) <= MAX_TAG_VALUE
    }
    roles = _roles(claims, issuer)
    audience = claims.get(issuer.audience_claim)
    if isinstance(audience, list):
        audience = next((a for a in audience if a in issuer.audiences), None) or (
            audience[0] if audience and isinstance(audience[0], str) else ""
        )
    client_id = claims.get(issuer.client_id_claim, claims.get("azp", ""))
    token = TokenInfo(
        scopes=frozenset(_strings(claims.get(issuer.scopes_claim, claims.get("scp")))),
        client_id=client_id if isinstance(client_id, str) else "",
        issuer=claims["iss"] if isinstance(claims.get("iss"), str) else "",
        audience=audience if isinstance(audience, str) else "",
        expires_at=_epoch(claims.get("exp")),
    )
    return Principal(principal_id, attributes, tags, roles, token)


def issuer_for(claims: Mapping[str, Any], issuers: list[IssuerSettings]) -> IssuerSettings:
    """The configured issuer named by `iss`; InvalidToken when `iss` names none of them.

    With no issuer configured, the claims are taken as they come (default mapping).
    Once one is, claims must name it exactly: else a caller could skip its
    `principal_prefix` and `roles_map` just by leaving `iss` out.
    """
    iss = claims.get("iss")
    if not issuers:
        return IssuerSettings(issuer=iss if isinstance(iss, str) else "")
    for issuer in issuers:
        if issuer.issuer == iss:
            return issuer
    raise InvalidToken("claims issuer is not configured")
