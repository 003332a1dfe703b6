"""Settings from the environment (and ``.env``), validated once at start-up.

A missing or invalid setting stops start-up with one line naming it (``SettingsError``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import phonenumbers
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings", "SettingsError", "load_settings"]

DEFAULT_RETRY_SCHEDULE = (60, 300, 1800, 7200, 18000, 36000, 72000, 86400, 86400)


class SettingsError(RuntimeError):
    """A setting is missing or invalid; the message is one line naming it."""


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """The connector's configuration; field names match the environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
    )

    retell_api_key: SecretStr = Field(validation_alias="RETELL_API_KEY")
    retell_base_url: str = Field("https://api.retellai.com", validation_alias="RETELL_BASE_URL")
    connector_api_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        validation_alias="CONNECTOR_API_TOKENS"
    )
    connector_database_url: str = Field(
        default_factory=lambda: f"sqlite:///{Path.cwd() / 'retell-connector.db'}",
        validation_alias="CONNECTOR_DATABASE_URL",
    )
    connector_public_url: str | None = Field(None, validation_alias="CONNECTOR_PUBLIC_URL")
    connector_allow_private_targets: bool = Field(
        False, validation_alias="CONNECTOR_ALLOW_PRIVATE_TARGETS"
    )
    connector_retry_schedule: Annotated[tuple[float, ...], NoDecode] = Field(
        DEFAULT_RETRY_SCHEDULE, validation_alias="CONNECTOR_RETRY_SCHEDULE"
    )
    connector_log_level: str = Field("INFO", validation_alias="CONNECTOR_LOG_LEVEL")
    # Where a phone number without + is read when the From number cannot tell (a region code).
    connector_default_region: str | None = Field(None, validation_alias="CONNECTOR_DEFAULT_REGION")
    # false: ``serve`` only accepts; dedicated ``retell-connector worker`` processes deliver.
    connector_serve_delivery: bool = Field(True, validation_alias="CONNECTOR_SERVE_DELIVERY")
    # false: no /mcp endpoint (the actions as MCP tools, issue 14).
    connector_mcp_enabled: bool = Field(True, validation_alias="CONNECTOR_MCP_ENABLED")
    # Signs the console's session cookies (issue 12); unset: generated once and kept in the store.
    connector_console_secret: SecretStr | None = Field(
        None, validation_alias="CONNECTOR_CONSOLE_SECRET"
    )
    # Not in the environment contract: knobs for tests and the demo.
    retell_timeout_seconds: float = Field(30.0, gt=0, validation_alias="RETELL_TIMEOUT_SECONDS")
    delivery_timeout_seconds: float = Field(
        15.0, gt=0, le=15.0, validation_alias="CONNECTOR_DELIVERY_TIMEOUT_SECONDS"
    )
    idempotency_ttl_hours: float = Field(72.0, validation_alias="CONNECTOR_IDEMPOTENCY_TTL_HOURS")
    sandbox: bool = Field(False, validation_alias="CONNECTOR_SANDBOX")
    # Campaigns (issue 11): at most this many queued calls in flight, below Retell's own limit.
    connector_max_concurrent_calls: int | None = Field(
        None, ge=1, validation_alias="CONNECTOR_MAX_CONCURRENT_CALLS"
    )
    # Knobs for tests: how often Retell's concurrency is read, when a call in flight that sent
    # no call_ended is looked up, and when its slot is freed anyway.
    concurrency_refresh_seconds: float = Field(
        3.0, gt=0, validation_alias="CONNECTOR_CONCURRENCY_REFRESH_SECONDS"
    )
    call_poll_seconds: float = Field(30.0, gt=0, validation_alias="CONNECTOR_CALL_POLL_SECONDS")
    call_safety_seconds: float = Field(
        7200.0, gt=0, validation_alias="CONNECTOR_CALL_SAFETY_SECONDS"
    )
    # Finished queued calls (completed, failed, expired, cancelled) are kept this long.
    connector_queue_retention_days: float = Field(
        30.0, gt=0, validation_alias="CONNECTOR_QUEUE_RETENTION_DAYS"
    )

    @field_validator("connector_api_tokens", mode="before")
    @classmethod
    def _tokens(cls, value: Any) -> Any:
        tokens = _split_csv(value)
        if not tokens:
            raise ValueError("needs at least one bearer token")
        return tokens

    @field_validator("connector_api_tokens")
    @classmethod
    def _token_strength(cls, tokens: list[SecretStr]) -> list[SecretStr]:
        if any(len(t.get_secret_value()) < 16 for t in tokens):
            raise ValueError("each token must be at least 16 characters")
        return tokens

    @field_validator("connector_console_secret")
    @classmethod
    def _console_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (or unset, to generate one)")
        return value

    @field_validator("retell_api_key")
    @classmethod
    def _key_present(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("connector_retry_schedule", mode="before")
    @classmethod
    def _schedule(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("connector_retry_schedule")
    @classmethod
    def _schedule_positive(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(v < 0 for v in value):
            raise ValueError("must be a non-empty list of non-negative seconds")
        return value

    @field_validator("retell_base_url", "connector_public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/") if value else value

    @field_validator("connector_log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("connector_default_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("must be a two-letter region code, like US or GB")
        return region

    @field_validator("connector_database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    def token_list(self) -> list[str]:
        return [t.get_secret_value() for t in self.connector_api_tokens]

    def secret_values(self) -> list[str]:
        """Everything secret in these settings, for the log redactor."""
        console = self.connector_console_secret
        extra = [console.get_secret_value()] if console is not None else []
        return [self.retell_api_key.get_secret_value(), *self.token_list(), *extra]


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; raise ``SettingsError`` naming the first bad one."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err["loc"][0] if err["loc"] else "settings"
        name = str(loc).upper()
        for field_name, info in Settings.model_fields.items():
            if field_name == loc and isinstance(info.validation_alias, str):
                name = info.validation_alias
        message = "is required" if err["type"] == "missing" else err["msg"]
        raise SettingsError(f"setting {name} {message}".replace("Value error, ", "")) from None
