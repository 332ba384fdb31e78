"""One settings object: env `MCP_PDP_<KEY>`, a TOML file, then defaults."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "MCP_PDP_CONFIG"


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
    max_batch_requests: int = Field(default=100, ge=1, le=10_000)
    max_filter_tools: int = Field(default=2000, ge=1, le=100_000)
    db_timeout_seconds: float = Field(default=2.0, gt=0)
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("database_url must be a sqlite:// or postgresql+psycopg:// URL")
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
