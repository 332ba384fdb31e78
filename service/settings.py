"""One settings object: env `MCP_PDP_<KEY>`, a TOML file, then defaults."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "MCP_PDP_CONFIG"
MIN_BOOTSTRAP_KEY = 32


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses: only this machine can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class IssuerSettings(BaseModel):
    """One trusted identity provider (`[[issuers]]`)."""

    issuer: str
    jwks_uri: str | None = None
    discovery_url: str | None = None
    audiences: list[str] = Field(default_factory=list)
    algorithms: list[str] = Field(default_factory=lambda: ["RS256"])
    principal_prefix: str | None = None
    subject_claim: str = "sub"
    roles_claim: str | None = "groups"
    scopes_claim: str = "scope"
    client_id_claim: str = "client_id"
    claims_to_attributes: dict[str, str] = Field(
        default_factory=lambda: {"email": "email", "name": "name", "client_id": "client_id"}
    )


class Settings(BaseSettings):
    """Every configuration key of mcp-pdp (DESIGN §6)."""

    model_config = SettingsConfigDict(env_prefix="MCP_PDP_", extra="forbid")

    database_url: str = "sqlite:///./mcp-pdp.db"
    redis_url: str | None = None
    policy_dir: Path = Path("./policies")
    bootstrap_admin_key: SecretStr | None = None
    require_caller_key: bool | None = None  # None: on unless bound to loopback
    issuers: list[IssuerSettings] = Field(default_factory=list)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    max_argument_depth: int = Field(default=16, ge=1, le=64)
    db_timeout_seconds: float = Field(default=2.0, gt=0)
    policy_poll_seconds: float = Field(default=2.0, ge=0)  # 0: reload only on SIGHUP / API
    log_level: str = "INFO"

    # The decision log (one record per decision; never tokens or keys).
    decision_log_stdout: bool = True
    decision_log_file: Path | None = None
    decision_log_file_max_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    decision_log_file_backups: int = Field(default=5, ge=0)
    decision_log_database: bool = True
    decision_log_retention_days: int = Field(default=30, ge=1)
    decision_log_queue_size: int = Field(default=10_000, ge=1)
    log_arguments: list[str] = Field(default_factory=list)  # argument names whose values are logged

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("database_url must be a sqlite:// or postgresql+psycopg:// URL")
        return value

    @field_validator("bootstrap_admin_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_BOOTSTRAP_KEY:
            raise ValueError(f"bootstrap_admin_key must be at least {MIN_BOOTSTRAP_KEY} characters")
        return value

    @model_validator(mode="after")
    def _resolve_caller_keys(self) -> Settings:
        # Unset means: required unless only this machine can reach the server.
        if self.require_caller_key is None:
            self.require_caller_key = not is_loopback(self.host)
        return self

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
