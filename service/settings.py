"""One settings object: env `MCP_PDP_<KEY>`, a TOML file, then defaults."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "MCP_PDP_CONFIG"
MIN_BOOTSTRAP_KEY = 32
# Words of the placeholders example files and templates use ("change-me", "replace
# with …"); compared with case, spaces and punctuation ignored.
PLACEHOLDER_WORDS = ("changeme", "replace", "placeholder")
RANDOM_KEY_COMMAND = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def placeholder_word(secret: str) -> str | None:
    """The placeholder word a secret contains, if any: a value copied unchanged from an example."""
    letters = "".join(c for c in secret.lower() if c.isalnum())
    return next((word for word in PLACEHOLDER_WORDS if word in letters), None)


def check_url_password(name: str, url: str | None) -> None:
    """Refuse a URL whose password is a placeholder (`postgresql://u:change-me@…`)."""
    password = urlsplit(url).password if url else None
    if password and placeholder_word(password):
        raise ValueError(
            f"{name}: its password looks like a placeholder ({placeholder_word(password)!r}); "
            "set the real one"
        )


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses: only this machine can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Asymmetric algorithms only: an issuer publishes public keys, so HS* (and
# `none`) could only ever be an attacker's choice.
SIGNING_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


def check_key_url(name: str, url: str | None) -> str | None:
    """Keys are fetched over https, or plain http on loopback only."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname or "")):
        return url
    raise ValueError(f"{name} must be an https:// URL (http:// only on loopback)")


class IssuerSettings(BaseModel):
    """One trusted identity provider (`[[issuers]]`)."""

    issuer: str
    jwks_uri: str | None = None
    discovery_url: str | None = None
    audiences: list[str] = Field(default_factory=list)
    algorithms: list[str] = Field(default_factory=lambda: ["RS256"])
    principal_prefix: str | None = Field(default=None, pattern=r"^[^|]{1,64}$")
    subject_claim: str = "sub"
    audience_claim: str = "aud"  # Cognito access tokens carry `client_id`, no `aud`
    roles_claim: str | None = "groups"
    roles_map: dict[str, str] = Field(default_factory=dict)  # set: only these groups are roles
    scopes_claim: str = "scope"
    client_id_claim: str = "client_id"
    claims_to_attributes: dict[str, str] = Field(
        default_factory=lambda: {"email": "email", "name": "name", "client_id": "client_id"}
    )

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if a not in SIGNING_ALGORITHMS]
        if bad or not value:
            raise ValueError(
                f"algorithms must be a non-empty subset of {sorted(SIGNING_ALGORITHMS)}"
            )
        return value

    @model_validator(mode="after")
    def _keys_and_audiences(self) -> IssuerSettings:
        if self.jwks_uri and self.discovery_url:
            raise ValueError("give one of jwks_uri or discovery_url, not both")
        check_key_url("jwks_uri", self.jwks_uri)
        check_key_url("discovery_url", self.discovery_url)
        if self.verifies_tokens and not self.audiences:
            raise ValueError(f"issuer {self.issuer!r}: audiences must name at least one audience")
        return self

    @property
    def verifies_tokens(self) -> bool:
        """Whether tokens of this issuer can be verified (it has a key source)."""
        return bool(self.jwks_uri or self.discovery_url)


class Settings(BaseSettings):
    """Every configuration key: `MCP_PDP_<KEY>` from the environment, else the TOML file."""

    # Errors never echo values: URLs carry passwords.
    model_config = SettingsConfigDict(
        env_prefix="MCP_PDP_", extra="forbid", hide_input_in_errors=True
    )

    database_url: str = "sqlite:///./mcp-pdp.db"
    redis_url: str | None = None
    policy_dir: Path = Path("./policies")
    bootstrap_admin_key: SecretStr | None = None
    require_caller_key: bool | None = None  # None: on unless bound to loopback
    issuers: list[IssuerSettings] = Field(default_factory=list)
    token_leeway_seconds: int = Field(default=30, ge=0, le=300)
    jwks_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    jwks_min_refresh_seconds: float = Field(default=30.0, ge=0)  # refetch on unknown kid
    jwks_cache_seconds: float = Field(default=900.0, gt=0)  # refetch keys older than this

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    max_batch_requests: int = Field(default=100, ge=1, le=10_000)
    max_filter_tools: int = Field(default=2000, ge=1, le=100_000)
    db_timeout_seconds: float = Field(default=2.0, gt=0)
    db_pool_size: int = Field(default=10, ge=1, le=1000)  # connections per worker (PostgreSQL)
    policy_poll_seconds: float = Field(default=2.0, ge=0)  # 0: reload only on SIGHUP / API
    log_level: str = "INFO"
    # The AuthZEN PDP identifier `/.well-known/authzen-configuration` names (docs/authzen.md);
    # unset: built from each request's scheme and host.
    authzen_pdp_url: str | None = None

    # The decision log (one record per decision; never tokens or keys).
    decision_log_stdout: bool = True
    decision_log_file: Path | None = None
    decision_log_file_max_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    decision_log_file_backups: int = Field(default=5, ge=0)
    decision_log_database: bool = True
    decision_log_retention_days: int = Field(default=30, ge=1)
    decision_log_queue_size: int = Field(default=10_000, ge=1)
    log_arguments: list[str] = Field(default_factory=list)  # argument names whose values are logged

    # The decision cache (docs/cache.md): in process, and in Redis when `redis_url` is set.
    cache_enabled: bool = True
    cache_ttl_seconds: float = Field(default=60.0, ge=0, le=86_400)  # allows
    cache_deny_ttl_seconds: float = Field(default=30.0, ge=0, le=86_400)  # denies
    cache_max_entries: int = Field(default=100_000, ge=0)  # in process; 0: no local level
    redis_timeout_seconds: float = Field(default=0.05, gt=0, le=5)
    redis_retry_seconds: float = Field(default=5.0, gt=0, le=3600)  # after a failure, skip Redis

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("database_url must be a sqlite:// or postgresql+psycopg:// URL")
        check_url_password("database_url", value)
        return value

    @field_validator("redis_url")
    @classmethod
    def _known_redis(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("redis_url must be a redis://, rediss:// or unix:// URL")
        check_url_password("redis_url", value)
        return value

    @field_validator("authzen_pdp_url")
    @classmethod
    def _pdp_identifier(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        loopback = parts.scheme == "http" and is_loopback(parts.hostname or "")
        if not (parts.scheme == "https" or loopback) or not parts.netloc:
            raise ValueError("authzen_pdp_url must be an https:// URL (http:// only on loopback)")
        if parts.query or parts.fragment or "?" in value or "#" in value:
            raise ValueError("authzen_pdp_url takes no query or fragment")
        return value.rstrip("/")

    @field_validator("bootstrap_admin_key")
    @classmethod
    def _long_and_random(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value()
        if len(secret) < MIN_BOOTSTRAP_KEY:
            raise ValueError(
                f"bootstrap_admin_key must be at least {MIN_BOOTSTRAP_KEY} characters, "
                f"e.g. {RANDOM_KEY_COMMAND}"
            )
        if word := placeholder_word(secret):
            # An example's placeholder may be long enough; copied unchanged, anyone who
            # read the example would hold an admin key.
            raise ValueError(
                f"bootstrap_admin_key looks like a placeholder (it contains {word!r}); "
                f"set a random value, e.g. {RANDOM_KEY_COMMAND}"
            )
        return value

    @model_validator(mode="after")
    def _resolve_caller_keys(self) -> Settings:
        # Unset means: required unless only this machine can reach the server.
        if self.require_caller_key is None:
            self.require_caller_key = not is_loopback(self.host)
        return self

    @field_validator("issuers")
    @classmethod
    def _distinct_issuers(cls, value: list[IssuerSettings]) -> list[IssuerSettings]:
        names = [i.issuer for i in value]
        if len(set(names)) != len(names):
            raise ValueError("each issuer may be configured once")
        # Two issuers may hand out the same `sub`; distinct prefixes keep them apart.
        prefixes = [i.principal_prefix for i in value]
        if len(value) > 1 and (None in prefixes or len(set(prefixes)) != len(prefixes)):
            raise ValueError("with several issuers, each needs its own principal_prefix")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Precedence: arguments, environment, then the TOML file."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get(CONFIG_ENV)
        if config:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config)))
        return tuple(sources)


def load_settings(config_file: str | None = None, **overrides: Any) -> Settings:
    """Settings from the environment and an optional TOML file (`--config`)."""
    if config_file:
        path = Path(config_file)
        with path.open("rb") as fh:
            tomllib.load(fh)  # fail early, with the parser's message, on a bad file
        os.environ[CONFIG_ENV] = str(path)
    return Settings(**overrides)
