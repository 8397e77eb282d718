"""Settings, read once from the environment (prefix ``GRIDCARE_``).

Secrets are required in production. In development they are generated once into
``<data_dir>/secrets.json`` so that a fresh machine runs with no setup and a second
run can still read what the first one encrypted and signed.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service reads from its environment; see the README for each one."""

    model_config = SettingsConfigDict(env_prefix="GRIDCARE_", extra="ignore")

    env: Literal["dev", "test", "production"] = "dev"
    data_dir: Path = Path(".data")
    database_url: str | None = None
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"

    token_signing_key: SecretStr | None = None
    token_issuer: str = "gridcare"  # noqa: S105 - an issuer name, not a secret
    access_token_ttl_seconds: int = Field(default=900, ge=30)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    pii_keys: SecretStr | None = None
    pii_blind_index_key: SecretStr | None = None

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    login_failures_allowed: int = Field(default=10, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1)
    worker_heartbeat_seconds: int = Field(default=5, ge=1)
    worker_stale_after_seconds: int = Field(default=60, ge=5)
    db_pool_size: int = Field(default=10, ge=1)
    # A login's principal (its session, account and grants) is kept this long per API process, so a
    # request does not read three tables to learn who is calling; a revocation or a grant changed
    # through this process drops it at once, one made elsewhere is seen within this bound. 0: read every time.
    auth_cache_seconds: float = Field(default=1.0, ge=0, le=1.0)
    # `gridcare api`: uvicorn worker processes; 0 means one per CPU core.
    api_workers: int = Field(default=0, ge=0, le=64)

    # SLA clocks: how often the sweeper looks for due steps, and per-kind policy overrides,
    # e.g. {"report.follow_up": {"due_after_hours": 24}, "report.follow_up:urgent_risk": {...}}.
    deadline_sweep_seconds: int = Field(default=30, ge=1, le=3600)
    # Small batches, each its own short transaction: a backlog never holds the locks the API needs.
    deadline_sweep_batch: int = Field(default=200, ge=1, le=10_000)
    deadline_policies: dict[str, dict[str, Any]] = Field(default_factory=dict)

    # Notifications: the outbox sweeper and the optional SMS gateway (no URL: inbox only).
    # Supervision: how often the worker looks for closed half years without their bulletins, and the
    # assessment's targets and weights per indicator ({"sla_share": {"target": 0.95, "weight": 30}}).
    supervision_sweep_seconds: int = Field(default=600, ge=1, le=86_400)
    assessment_indicators: dict[str, dict[str, float]] = Field(default_factory=dict)
    outbox_sweep_seconds: int = Field(default=10, ge=1, le=3600)
    # How often the duty checks (work days, livestreams, quarterly contacts, due dates) look: they tell once.
    duty_check_seconds: int = Field(default=300, ge=1, le=3600)
    outbox_backoff_base_seconds: int = Field(default=30, ge=1)
    outbox_backoff_max_seconds: int = Field(default=3600, ge=1)
    sms_gateway_url: str | None = None
    # Webhooks: the delivery sweep (on the worker's own timer), how many deliveries one pass claims, the
    # timeout of one attempt, and whether targets on loopback/private/link-local addresses are allowed
    # (unset: yes in dev and test, where receivers run on loopback; never in production unless set).
    webhooks_sweep_seconds: int = Field(default=2, ge=1, le=3600)
    webhooks_batch: int = Field(default=50, ge=1, le=1000)
    webhooks_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhooks_allow_private: bool | None = None
    # Residents' delta sync: removals (tombstones) are kept this many days; a phone away longer syncs
    # from the beginning (410 ``sync_expired``). How often the worker prunes them.
    sync_tombstone_days: int = Field(default=180, ge=1, le=3650)
    tombstone_prune_seconds: int = Field(default=3600, ge=1, le=86_400)
    # With the database's autovacuum off, how often the worker analyzes tables whose statistics went stale.
    statistics_sweep_seconds: int = Field(default=60, ge=1, le=86_400)
    # The worker: how often it looks for Redis while Redis is away (the sweepers never wait for it).
    redis_poll_seconds: float = Field(default=0.5, gt=0, le=10)

    # /metrics (API and worker): open in dev and test; in production only for the bearer token or
    # the networks named here (neither set: closed). The worker serves it on its own small listener.
    metrics_token: SecretStr | None = None
    metrics_networks: list[str] = Field(default_factory=list)
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(default=9464, ge=0, le=65535)  # 0: no listener
    sms_gateway_username: str | None = None
    sms_gateway_password: SecretStr | None = None
    sms_gateway_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("metrics_networks")
    @classmethod
    def _networks_parse(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # a ValueError names the bad one at start-up
        return value

    @model_validator(mode="after")
    def _secrets_present_in_production(self) -> Settings:
        if self.env == "production":
            missing = [
                name
                for name in (
                    "token_signing_key",
                    "pii_keys",
                    "pii_blind_index_key",
                    "database_url",
                    "redis_url",
                )
                if getattr(self, name) is None
            ]
            if missing:
                names = ", ".join("GRIDCARE_" + m.upper() for m in missing)
                raise ValueError(f"production mode requires {names}")
        return self

    def with_dev_secrets(self) -> Settings:
        """Fill missing secrets from ``<data_dir>/secrets.json``, creating it once (dev/test only)."""
        if self.env == "production":
            return self
        if self.token_signing_key and self.pii_keys and self.pii_blind_index_key:
            return self
        path = self.data_dir / "secrets.json"
        if not path.exists():
            # Several API processes may start at once: each writes its own file whole, then links it into
            # place; the first link wins and everyone reads the winner (never a half-written file).
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fresh = {
                "token_signing_key": secrets.token_urlsafe(48),
                "pii_keys": json.dumps({"1": _new_aes_key()}),
                "pii_blind_index_key": secrets.token_urlsafe(48),
            }
            mine = path.with_name(f".secrets.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(mine, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(fresh, f)
            try:
                os.link(mine, path)
            except FileExistsError:
                pass
            finally:
                mine.unlink()
        stored = json.loads(path.read_text())
        return self.model_copy(
            update={
                name: self.__dict__[name] or SecretStr(stored[name])
                for name in ("token_signing_key", "pii_keys", "pii_blind_index_key")
            }
        )

    def metrics_open(self) -> bool:
        """Whether anyone may scrape /metrics (dev and test; production asks for a token or a network)."""
        return self.env != "production"

    def webhooks_private_allowed(self) -> bool:
        """Whether webhook targets may be loopback, private or link-local (SSRF guard; core/webhooks/targets.py)."""
        if self.webhooks_allow_private is not None:
            return self.webhooks_allow_private
        return self.env != "production"

    def signing_key(self) -> str:
        """The key that signs access tokens."""
        assert self.token_signing_key is not None, "call with_dev_secrets() or set the key"  # noqa: S101
        return self.token_signing_key.get_secret_value()


def _new_aes_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, secrets filled in."""
    return Settings().with_dev_secrets()
