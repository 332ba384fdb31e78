"""Issuer settings validation and the claims → principal mapping."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from service.identity.claims import InvalidToken, principal_from_claims
from service.settings import IssuerSettings, Settings

KEYS = {"jwks_uri": "https://idp.example.com/keys", "audiences": ["api://gw"]}


def issuer(**fields: Any) -> IssuerSettings:
    return IssuerSettings(issuer="https://idp.example.com/", **{**KEYS, **fields})


@pytest.mark.parametrize(
    "fields",
    [
        {"algorithms": ["HS256"]},
        {"algorithms": ["RS256", "none"]},
        {"algorithms": []},
        {"audiences": []},
        {"discovery_url": "https://idp.example.com/.well-known/openid-configuration"},
        {"jwks_uri": "http://idp.example.com/keys"},  # plain http off loopback
        {"jwks_uri": "file:///etc/keys.json"},
        {"principal_prefix": "a|b"},
    ],
)
def test_unsafe_issuer_settings_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        issuer(**fields)


def test_issuer_without_keys_is_claims_only() -> None:
    mapping = IssuerSettings(issuer="https://idp.example.com/")
    assert not mapping.verifies_tokens
    assert issuer().verifies_tokens
    assert issuer(jwks_uri="http://127.0.0.1:9/keys").verifies_tokens


def test_several_issuers_need_distinct_prefixes() -> None:
    a = issuer(principal_prefix="a")
    b = IssuerSettings(issuer="https://b.example.com/", principal_prefix="a", **KEYS)
    unprefixed = IssuerSettings(issuer="https://b.example.com/", **KEYS)
    for pair in ([a, b], [a, unprefixed], [a, a]):
        with pytest.raises(ValidationError):
            Settings(issuers=pair)
    Settings(
        issuers=[a, IssuerSettings(issuer="https://b.example.com/", principal_prefix="b", **KEYS)]
    )
    Settings(issuers=[issuer()])  # one issuer needs no prefix


def test_claims_become_principal_and_context_token() -> None:
    claims = {
        "iss": "https://idp.example.com/",
        "sub": "00u1",
        "aud": ["https://idp.example.com/userinfo", "api://gw"],
        "exp": 1_900_000_000,
        "cid": "agent-app",
        "scp": ["tools:read", "tools:write"],
        "email": "alice@example.com",
        "groups": ["analyst", "not a role!"],
        "tenant": "acme",
        "amr": ["pwd"],
    }
    okta = issuer(principal_prefix="okta", scopes_claim="scp", client_id_claim="cid")
    principal = principal_from_claims(claims, okta)
    assert principal.id == "okta|00u1"
    assert principal.roles == {"analyst"}
    assert principal.attributes == {"email": "alice@example.com"}
    assert principal.tags["tenant"] == "acme" and "amr" not in principal.tags
    token = principal.token
    assert token.scopes == {"tools:read", "tools:write"}
    assert (token.client_id, token.issuer, token.audience) == (
        "agent-app",
        "https://idp.example.com/",
        "api://gw",
    )
    assert token.expires_at == 1_900_000_000


def test_cognito_access_token_audience_is_client_id() -> None:
    claims = {"sub": "u-1", "client_id": "app123", "scope": "a b", "exp": 1.9e9}
    cognito = issuer(audience_claim="client_id", roles_claim="cognito:groups")
    token = principal_from_claims({**claims, "cognito:groups": ["hr"]}, cognito)
    assert (token.token.audience, token.token.client_id) == ("app123", "app123")
    assert token.roles == {"hr"} and token.token.scopes == {"a", "b"}
    assert token.token.expires_at == 1_900_000_000


@pytest.mark.parametrize("exp", [float("inf"), float("nan"), True, "1900000000", 10**30, 10**400])
def test_odd_expiry_never_breaks_the_mapping(exp: Any) -> None:
    principal = principal_from_claims({"sub": "a", "exp": exp}, issuer())
    assert 0 <= principal.token.expires_at <= 2**63 - 1


@pytest.mark.parametrize("subject", [None, "", 7, "x" * 300])
def test_unusable_subject_is_invalid_token(subject: Any) -> None:
    with pytest.raises(InvalidToken):
        principal_from_claims({"sub": subject}, issuer())


def test_documented_presets_are_valid_settings() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "identity.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) == 4  # Okta, Auth0, Entra ID, Cognito
    prefixes = set()
    for block in blocks:
        document = tomllib.loads(re.sub(r"<[^>]+>", "x1", block))
        (entry,) = Settings(**document).issuers
        assert entry.verifies_tokens and entry.audiences
        prefixes.add(entry.principal_prefix)
    assert prefixes == {"okta", "auth0", "entra", "cognito"}
