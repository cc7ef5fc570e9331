"""Settings from the environment, validated at start-up with one clear message per bad value.

With no configuration at all the platform runs in development mode on a SQLite file under the data directory;
development secrets are generated once and kept in ``<data dir>/dev-secrets.json``. In production mode every
secret must be given explicitly and must not be a known default.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

Environment = Literal["development", "test", "production"]

# Public paths of the HTTP API, spelled once: the HTTP app mounts its routes under API_PREFIX and the
# composition root builds the absolute URLs that external services call back (webhook, OAuth callback).
API_PREFIX = "/api/v1"
GITHUB_WEBHOOK_PATH = f"{API_PREFIX}/webhooks/github"
GITHUB_CALLBACK_PATH = f"{API_PREFIX}/users/github/callback"

# A real random secret of 32+ characters has far more; "xxxx..." or "abab..." are typed, not generated.
_MIN_DISTINCT_SECRET_CHARACTERS = 8
_ENVIRONMENTS: tuple[Environment, ...] = ("development", "test", "production")
_KNOWN_WEAK = {"", "changeme", "change-me", "secret", "dev", "development", "test", "password", "default"}


class SettingsError(Exception):
    """One or more settings are invalid; ``problems`` holds one message per bad value."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("Invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True, slots=True)
class EncryptionKey:
    key_id: str
    material: bytes = field(repr=False)


@dataclass(frozen=True)
class Settings:
    environment: Environment = "development"
    data_dir: Path = Path("data")
    database_url: str = "sqlite+aiosqlite:///data/asynccoder.db"
    redis_url: str | None = None
    auto_migrate: bool = True
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "console"
    public_base_url: str = "http://127.0.0.1:8000"
    max_request_body_bytes: int = 1_048_576
    # The HTTP server (``asynccoder serve``): idle keep-alive and request-head deadline, connections served at
    # once per process (over it: 503), the listen backlog, the largest request head, and how long a stop
    # waits for requests in flight.
    server_keep_alive_timeout_seconds: int = 5
    server_limit_concurrency: int = 1000
    server_backlog: int = 2048
    server_max_header_bytes: int = 16_384
    server_graceful_timeout_seconds: int = 30
    trusted_proxies: tuple[str, ...] = ()
    # Browser origins allowed to call the API (CORS); none by default. Credentials only when asked for.
    cors_allowed_origins: tuple[str, ...] = ()
    cors_allow_credentials: bool = False
    # Requests per minute on every route by plan rate-limit tier ("anonymous": no user, counted per client
    # address); auth, billing and model-test routes get a separate bucket of a fifth of that.
    rate_limit_enabled: bool = True
    rate_limit_anonymous_per_minute: int = 100
    rate_limit_basic_per_minute: int = 300
    rate_limit_elevated_per_minute: int = 1200
    rate_limit_unlimited_per_minute: int = 3000
    rate_limit_tier_cache_seconds: int = 60
    # /metrics: open in development; in production served only with a token (bearer), else not at all.
    metrics_token: str | None = field(default=None, repr=False)
    # `asynccoder worker` has no API: it serves its own metrics on this port (plain, unauthenticated, so bind
    # it to a private interface) when set.
    worker_metrics_port: int | None = None
    worker_metrics_host: str = "127.0.0.1"
    # Tracing (OTLP over HTTP, protobuf) and error tracking (a Sentry DSN): both off unless configured.
    otlp_endpoint: str | None = None
    otel_service_name: str = "asynccoder"
    sentry_dsn: str | None = field(default=None, repr=False)

    jwt_secret: str = field(default="", repr=False)
    jwt_issuer: str = "asynccoder"
    jwt_audience: str = "asynccoder-api"
    access_token_ttl_seconds: int = 900
    refresh_token_idle_ttl_seconds: int = 14 * 24 * 3600
    refresh_token_absolute_ttl_seconds: int = 60 * 24 * 3600
    encryption_keys: tuple[EncryptionKey, ...] = field(default=(), repr=False)
    password_hash_memory_kib: int = 19 * 1024
    password_hash_time_cost: int = 2
    password_hash_parallelism: int = 1
    login_max_failures_per_account: int = 5
    login_max_failures_per_client: int = 20
    login_failure_window_seconds: int = 900
    login_account_delay_cap_seconds: int = 60

    clerk_secret_key: str | None = field(default=None, repr=False)
    clerk_jwks_url: str | None = None
    clerk_issuer: str | None = None
    clerk_authorized_parties: tuple[str, ...] = ()
    clerk_jwks_refetch_seconds: int = 60

    github_client_id: str | None = None
    github_client_secret: str | None = field(default=None, repr=False)
    github_api_url: str = "https://api.github.com"
    github_oauth_url: str = "https://github.com"
    github_oauth_scopes: tuple[str, ...] = ("repo", "read:user")
    github_webhook_secret: str | None = field(default=None, repr=False)
    code_host: Literal["auto", "github", "local"] = "auto"
    local_repositories_root: Path | None = None
    git_timeout_seconds: int = 300

    claude_api_key: str | None = field(default=None, repr=False)
    anthropic_base_url: str = "https://api.anthropic.com"
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str = "https://api.openai.com/v1"
    gemini_api_key: str | None = field(default=None, repr=False)
    gemini_base_url: str = "https://generativelanguage.googleapis.com"

    ai_request_timeout_seconds: int = 120
    ai_connect_timeout_seconds: int = 10
    ai_max_attempts: int = 3

    stripe_secret_key: str | None = field(default=None, repr=False)
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    stripe_api_base: str = "https://api.stripe.com"

    # Live task events: the notification backend (None: redis when REDIS_URL is set, else memory), the
    # per-user cap on open event streams, the idle heartbeat and the publish coalescing window.
    task_events_backend: Literal["memory", "redis", "postgres"] | None = None
    event_streams_per_user: int = 5
    event_stream_heartbeat_seconds: int = 15
    task_events_coalesce_ms: int = 50

    @property
    def task_events_transport(self) -> Literal["memory", "redis", "postgres"]:
        if self.task_events_backend is not None:
            return self.task_events_backend
        return "redis" if self.redis_url else "memory"

    embedded_worker: bool | None = None  # None: on with SQLite, off with PostgreSQL
    # The task queue engine: "inprocess" (workers claim rows of the tasks table; any database) or
    # "procrastinate" (procrastinate jobs on PostgreSQL only; the tasks table stays the source of truth).
    task_queue: Literal["inprocess", "procrastinate"] = "inprocess"
    demo_model: bool = False  # the offline demo model answers every model call (development only)
    worker_concurrency: int = 2
    task_time_limit_seconds: int = 1800
    task_stale_after_seconds: int = 30
    task_max_attempts: int = 3
    task_byok_platform_fee_credits: int = 20  # what a task run only on the user's own keys holds and pays
    trigger_daily_cap_per_repository: int = 20  # tasks GitHub triggers may create per repository per day
    github_delivery_retention_days: int = 30  # dedupe rows of GitHub deliveries are kept this long (>= 7)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def serves_metrics(self) -> bool:
        """``/metrics`` is mounted: always outside production, with a token in production."""
        return not self.is_production or self.metrics_token is not None

    @property
    def uses_local_code_host(self) -> bool:
        """Local git repositories instead of GitHub: ``CODE_HOST=local``, or by default in development and
        test when no GitHub OAuth app is configured (``GITHUB_CLIENT_ID`` unset)."""
        if self.code_host != "auto":
            return self.code_host == "local"
        return not self.is_production and self.github_client_id is None

    @property
    def repositories_root(self) -> Path:
        return self.local_repositories_root or self.data_dir / "repositories"

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def runs_embedded_worker(self) -> bool:
        """``asynccoder serve`` runs a task worker in the API process: by default on SQLite only."""
        return self.uses_sqlite if self.embedded_worker is None else self.embedded_worker


# name -> (settings attribute, parser). Parsers raise ValueError with a message that names no secret value.
def _str(raw: str) -> str:
    return raw


def _opt_str(raw: str) -> str | None:
    return raw or None


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be one of true/false/1/0/yes/no/on/off")


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("must be a whole number") from None
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


def _retention_days(raw: str) -> int:
    value = _positive_int(raw)
    if value < 7:
        raise ValueError("must be at least 7 (GitHub lets deliveries of the last 3 days be redelivered)")
    return value


def _environment(raw: str) -> Environment:
    value = raw.strip().lower()
    for env in _ENVIRONMENTS:
        if env == value:
            return env
    raise ValueError(f"must be one of {', '.join(_ENVIRONMENTS)}")


def _log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    return value


def _log_format(raw: str) -> Literal["json", "console"]:
    value = raw.strip().lower()
    if value == "json":
        return "json"
    if value == "console":
        return "console"
    raise ValueError("must be json or console")


def _http_url(raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise ValueError("must not contain credentials")
    return raw.strip().rstrip("/")


def _opt_http_url(raw: str) -> str | None:
    return _http_url(raw) if raw.strip() else None


def _sentry_dsn(raw: str) -> str | None:
    """``https://<public key>@<host>/<project id>``; messages never repeat the value (the key is in it)."""
    value = raw.strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or not parts.username:
        raise ValueError("must look like https://<public key>@<host>/<project id>")
    if not parts.path.strip("/").split("/")[-1].isdigit():
        raise ValueError("must end with the numeric project id")
    return value


def _code_host(raw: str) -> Literal["auto", "github", "local"]:
    value = raw.strip().lower()
    if value == "auto":
        return "auto"
    if value == "github":
        return "github"
    if value == "local":
        return "local"
    raise ValueError("must be auto, github or local")


def _task_queue(raw: str) -> Literal["inprocess", "procrastinate"]:
    value = raw.strip().lower()
    if value == "inprocess":
        return "inprocess"
    if value == "procrastinate":
        return "procrastinate"
    raise ValueError("must be inprocess or procrastinate")


def _task_events_backend(raw: str) -> Literal["memory", "redis", "postgres"]:
    value = raw.strip().lower()
    if value == "memory":
        return "memory"
    if value == "redis":
        return "redis"
    if value == "postgres":
        return "postgres"
    raise ValueError("must be memory, redis or postgres")


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _networks(raw: str) -> tuple[str, ...]:
    items = _csv(raw)
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
    return items


def _origins(raw: str) -> tuple[str, ...]:
    """``https://app.example.com,http://localhost:5173`` (scheme, host and port only) or a lone ``*``."""
    items = _csv(raw)
    if items == ("*",):
        return items
    origins: list[str] = []
    for item in items:
        parts = urlsplit(item.rstrip("/"))
        if (
            parts.scheme not in {"http", "https"}
            or not parts.hostname
            or "*" in item
            or parts.username
            or parts.password
            or parts.path
            or parts.query
            or parts.fragment
        ):
            raise ValueError(f"{item!r} is not an origin like https://app.example.com (or a lone *)")
        origins.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return tuple(origins)


def _redis_url(raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    if urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
        raise ValueError("must be a redis://, rediss:// or unix:// URL")
    return value


def _database_url(raw: str) -> str:
    value = raw.strip()
    scheme = value.split("://", 1)[0] if "://" in value else ""
    aliases = {
        "sqlite": "sqlite+aiosqlite",
        "postgresql": "postgresql+psycopg",
        "postgres": "postgresql+psycopg",
    }
    scheme = aliases.get(scheme, scheme)
    if scheme not in {"sqlite+aiosqlite", "postgresql+psycopg"}:
        raise ValueError("must be a sqlite+aiosqlite:/// or postgresql+psycopg:// URL")
    return scheme + value[value.index("://") :]


def _encryption_keys(raw: str) -> tuple[EncryptionKey, ...]:
    """``id1:base64key,id0:base64key``: the first key encrypts, every key decrypts."""
    keys: list[EncryptionKey] = []
    for index, item in enumerate(_csv(raw)):
        key_id, sep, encoded = item.partition(":")
        if (
            not sep
            or not key_id
            or not key_id.replace("-", "").replace("_", "").isalnum()
            or len(key_id) > 32
        ):
            raise ValueError(f"entry {index + 1} must look like <key id>:<base64 32-byte key>")
        try:
            material = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except ValueError:
            raise ValueError(f"entry {index + 1} ({key_id}) is not valid base64") from None
        if len(material) != 32:
            raise ValueError(f"entry {index + 1} ({key_id}) must decode to exactly 32 bytes")
        if any(k.key_id == key_id for k in keys):
            raise ValueError(f"key id {key_id!r} appears twice")
        keys.append(EncryptionKey(key_id, material))
    if not keys:
        raise ValueError("must list at least one key")
    return tuple(keys)


_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "ASYNCCODER_ENV": ("environment", _environment),
    "ASYNCCODER_DATA_DIR": ("data_dir", lambda raw: Path(raw).expanduser()),
    "DATABASE_URL": ("database_url", _database_url),
    "REDIS_URL": ("redis_url", _redis_url),
    "ASYNCCODER_AUTO_MIGRATE": ("auto_migrate", _bool),
    "LOG_LEVEL": ("log_level", _log_level),
    "LOG_FORMAT": ("log_format", _log_format),
    "PUBLIC_BASE_URL": ("public_base_url", _http_url),
    "MAX_REQUEST_BODY_BYTES": ("max_request_body_bytes", _positive_int),
    "SERVER_KEEP_ALIVE_TIMEOUT_SECONDS": ("server_keep_alive_timeout_seconds", _positive_int),
    "SERVER_LIMIT_CONCURRENCY": ("server_limit_concurrency", _positive_int),
    "SERVER_BACKLOG": ("server_backlog", _positive_int),
    "SERVER_MAX_HEADER_BYTES": ("server_max_header_bytes", _positive_int),
    "SERVER_GRACEFUL_TIMEOUT_SECONDS": ("server_graceful_timeout_seconds", _positive_int),
    "TRUSTED_PROXIES": ("trusted_proxies", _networks),
    "CORS_ALLOWED_ORIGINS": ("cors_allowed_origins", _origins),
    "CORS_ALLOW_CREDENTIALS": ("cors_allow_credentials", _bool),
    "RATE_LIMIT_ENABLED": ("rate_limit_enabled", _bool),
    "RATE_LIMIT_ANONYMOUS_PER_MINUTE": ("rate_limit_anonymous_per_minute", _positive_int),
    "RATE_LIMIT_BASIC_PER_MINUTE": ("rate_limit_basic_per_minute", _positive_int),
    "RATE_LIMIT_ELEVATED_PER_MINUTE": ("rate_limit_elevated_per_minute", _positive_int),
    "RATE_LIMIT_UNLIMITED_PER_MINUTE": ("rate_limit_unlimited_per_minute", _positive_int),
    "RATE_LIMIT_TIER_CACHE_SECONDS": ("rate_limit_tier_cache_seconds", _positive_int),
    "ASYNCCODER_METRICS_TOKEN": ("metrics_token", _opt_str),
    "WORKER_METRICS_PORT": ("worker_metrics_port", _positive_int),
    "WORKER_METRICS_HOST": ("worker_metrics_host", _str),
    "OTLP_ENDPOINT": ("otlp_endpoint", _opt_http_url),
    "OTEL_SERVICE_NAME": ("otel_service_name", _str),
    "SENTRY_DSN": ("sentry_dsn", _sentry_dsn),
    "JWT_SECRET": ("jwt_secret", _str),
    "JWT_ISSUER": ("jwt_issuer", _str),
    "JWT_AUDIENCE": ("jwt_audience", _str),
    "ACCESS_TOKEN_TTL_SECONDS": ("access_token_ttl_seconds", _positive_int),
    "REFRESH_TOKEN_IDLE_TTL_SECONDS": ("refresh_token_idle_ttl_seconds", _positive_int),
    "REFRESH_TOKEN_ABSOLUTE_TTL_SECONDS": ("refresh_token_absolute_ttl_seconds", _positive_int),
    "ENCRYPTION_KEYS": ("encryption_keys", _encryption_keys),
    "PASSWORD_HASH_MEMORY_KIB": ("password_hash_memory_kib", _positive_int),
    "PASSWORD_HASH_TIME_COST": ("password_hash_time_cost", _positive_int),
    "PASSWORD_HASH_PARALLELISM": ("password_hash_parallelism", _positive_int),
    "LOGIN_MAX_FAILURES_PER_ACCOUNT": ("login_max_failures_per_account", _positive_int),
    "LOGIN_MAX_FAILURES_PER_CLIENT": ("login_max_failures_per_client", _positive_int),
    "LOGIN_FAILURE_WINDOW_SECONDS": ("login_failure_window_seconds", _positive_int),
    "LOGIN_ACCOUNT_DELAY_CAP_SECONDS": ("login_account_delay_cap_seconds", _positive_int),
    "CLERK_SECRET_KEY": ("clerk_secret_key", _opt_str),
    "CLERK_JWKS_URL": ("clerk_jwks_url", _opt_http_url),
    "CLERK_ISSUER": ("clerk_issuer", _opt_str),
    "CLERK_AUTHORIZED_PARTIES": ("clerk_authorized_parties", _csv),
    "CLERK_JWKS_REFETCH_SECONDS": ("clerk_jwks_refetch_seconds", _positive_int),
    "GITHUB_CLIENT_ID": ("github_client_id", _opt_str),
    "GITHUB_CLIENT_SECRET": ("github_client_secret", _opt_str),
    "GITHUB_API_URL": ("github_api_url", _http_url),
    "GITHUB_OAUTH_URL": ("github_oauth_url", _http_url),
    "GITHUB_OAUTH_SCOPES": ("github_oauth_scopes", _csv),
    "GITHUB_WEBHOOK_SECRET": ("github_webhook_secret", _opt_str),
    "GITHUB_DELIVERY_RETENTION_DAYS": ("github_delivery_retention_days", _retention_days),
    "CODE_HOST": ("code_host", _code_host),
    "LOCAL_REPOSITORIES_ROOT": ("local_repositories_root", lambda raw: Path(raw).expanduser()),
    "GIT_TIMEOUT_SECONDS": ("git_timeout_seconds", _positive_int),
    "CLAUDE_API_KEY": ("claude_api_key", _opt_str),
    "ANTHROPIC_BASE_URL": ("anthropic_base_url", _http_url),
    "OPENAI_API_KEY": ("openai_api_key", _opt_str),
    "OPENAI_BASE_URL": ("openai_base_url", _http_url),
    "GEMINI_API_KEY": ("gemini_api_key", _opt_str),
    "GEMINI_BASE_URL": ("gemini_base_url", _http_url),
    "AI_REQUEST_TIMEOUT_SECONDS": ("ai_request_timeout_seconds", _positive_int),
    "AI_CONNECT_TIMEOUT_SECONDS": ("ai_connect_timeout_seconds", _positive_int),
    "AI_MAX_ATTEMPTS": ("ai_max_attempts", _positive_int),
    "STRIPE_SECRET_KEY": ("stripe_secret_key", _opt_str),
    "STRIPE_WEBHOOK_SECRET": ("stripe_webhook_secret", _opt_str),
    "STRIPE_API_BASE": ("stripe_api_base", _http_url),
    "TASK_EVENTS_BACKEND": ("task_events_backend", _task_events_backend),
    "EVENT_STREAMS_PER_USER": ("event_streams_per_user", _positive_int),
    "EVENT_STREAM_HEARTBEAT_SECONDS": ("event_stream_heartbeat_seconds", _positive_int),
    "TASK_EVENTS_COALESCE_MS": ("task_events_coalesce_ms", _positive_int),
    "ASYNCCODER_EMBEDDED_WORKER": ("embedded_worker", _bool),
    "ASYNCCODER_TASK_QUEUE": ("task_queue", _task_queue),
    "ASYNCCODER_DEMO_MODEL": ("demo_model", _bool),
    "WORKER_CONCURRENCY": ("worker_concurrency", _positive_int),
    "TASK_TIME_LIMIT_SECONDS": ("task_time_limit_seconds", _positive_int),
    "TASK_STALE_AFTER_SECONDS": ("task_stale_after_seconds", _positive_int),
    "TASK_MAX_ATTEMPTS": ("task_max_attempts", _positive_int),
    "TASK_BYOK_PLATFORM_FEE_CREDITS": ("task_byok_platform_fee_credits", _positive_int),
    "TRIGGER_DAILY_CAP_PER_REPOSITORY": ("trigger_daily_cap_per_repository", _positive_int),
}

ENVIRONMENT_VARIABLES = tuple(_FIELDS)


def _dev_secrets(data_dir: Path) -> dict[str, str]:
    """Development secrets, generated once per data directory so tokens survive restarts."""
    path = data_dir / "dev-secrets.json"
    try:
        stored = json.loads(path.read_text())
        if isinstance(stored, dict) and {"jwt_secret", "encryption_key"} <= stored.keys():
            return {k: str(v) for k, v in stored.items()}
    except (OSError, ValueError):
        pass
    generated = {
        "jwt_secret": secrets.token_urlsafe(48),
        "encryption_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("="),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(generated, handle)
    return generated


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``environ`` (default ``os.environ``); ``SettingsError`` lists every problem."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    unparsed: set[str] = set()  # attributes whose value failed to parse: reported once, not as missing too
    for name, (attribute, parse) in _FIELDS.items():
        raw = env.get(name)
        if raw is None or (raw.strip() == "" and attribute not in {"redis_url"}):
            continue
        try:
            values[attribute] = parse(raw)
        except ValueError as exc:
            problems.append(f"{name} {exc}")
            unparsed.add(attribute)
    if values.get("task_events_backend") == "redis" and not values.get("redis_url"):
        problems.append("TASK_EVENTS_BACKEND=redis needs REDIS_URL")
    if values.get("task_events_backend") == "postgres" and not str(values.get("database_url", "")).startswith(
        "postgresql"
    ):
        problems.append("TASK_EVENTS_BACKEND=postgres needs a PostgreSQL DATABASE_URL")
    if values.get("cors_allow_credentials") and values.get("cors_allowed_origins") == ("*",):
        problems.append("CORS_ALLOW_CREDENTIALS=true needs CORS_ALLOWED_ORIGINS to list origins, not *")
    # A value that fails to parse does not stop here: the checks below still run, so that one start-up
    # reports every problem (an unparsed value is skipped by them, never reported as missing as well).

    environment: Environment = values.get("environment", "development")
    data_dir: Path = values.get("data_dir", Path("data"))
    values["data_dir"] = data_dir
    if "database_url" not in values:
        if environment == "production" and "database_url" not in unparsed:
            problems.append("DATABASE_URL is required in production")
        values["database_url"] = f"sqlite+aiosqlite:///{data_dir / 'asynccoder.db'}"
    if values.get("task_queue") == "procrastinate" and str(values["database_url"]).startswith("sqlite"):
        problems.append(
            "ASYNCCODER_TASK_QUEUE=procrastinate needs a PostgreSQL DATABASE_URL (on SQLite use inprocess)"
        )
        raise SettingsError(problems)
    if "auto_migrate" not in values:
        values["auto_migrate"] = environment != "production"
    if "log_format" not in values:
        values["log_format"] = "json" if environment == "production" else "console"

    if environment == "production":
        secret = values.get("jwt_secret", "")
        if "jwt_secret" in unparsed:
            pass
        elif secret.strip().lower() in _KNOWN_WEAK:
            problems.append("JWT_SECRET is required in production")
        elif len(secret) < 32:
            problems.append("JWT_SECRET must be at least 32 characters in production")
        elif len(set(secret)) < _MIN_DISTINCT_SECRET_CHARACTERS:
            problems.append(
                f"JWT_SECRET must have at least {_MIN_DISTINCT_SECRET_CHARACTERS} different characters in "
                "production (generate one: python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if "database_url" not in unparsed and str(values.get("database_url", "")).startswith("sqlite"):
            problems.append("DATABASE_URL must be PostgreSQL in production (SQLite is for development)")
        if "encryption_keys" not in values and "encryption_keys" not in unparsed:
            problems.append("ENCRYPTION_KEYS is required in production")
        if values.get("stripe_secret_key") and not values.get("stripe_webhook_secret"):
            problems.append("STRIPE_WEBHOOK_SECRET is required in production when STRIPE_SECRET_KEY is set")
        if values.get("github_client_id") and not values.get("github_client_secret"):
            problems.append("GITHUB_CLIENT_SECRET is required when GITHUB_CLIENT_ID is set")
        if values.get("code_host") == "local":
            problems.append("CODE_HOST=local (local git repositories) is for development only")
        if values.get("demo_model"):
            problems.append("ASYNCCODER_DEMO_MODEL (the offline demo model) is for development only")
        token = values.get("metrics_token")
        if token is not None and (len(token) < 32 or len(set(token)) < _MIN_DISTINCT_SECRET_CHARACTERS):
            problems.append("ASYNCCODER_METRICS_TOKEN must be a random value of at least 32 characters")
        if values.get("clerk_jwks_url") and not values.get("clerk_issuer"):
            problems.append("CLERK_ISSUER is required in production when CLERK_JWKS_URL is set")
        if (
            values.get("password_hash_memory_kib", 19 * 1024) < 19 * 1024
            or values.get("password_hash_time_cost", 2) < 2
        ):
            problems.append("PASSWORD_HASH_* must be at least m=19456 KiB, t=2 in production (OWASP)")
        if problems:
            raise SettingsError(problems)
    else:
        if "jwt_secret" in values and len(values["jwt_secret"]) < 32:
            problems.append("JWT_SECRET must be at least 32 characters")
        if problems:
            raise SettingsError(problems)  # before generating development secrets in place of bad ones
        if "jwt_secret" not in values or "encryption_keys" not in values:
            generated = _dev_secrets(data_dir)
            values.setdefault("jwt_secret", generated["jwt_secret"])
            values.setdefault("encryption_keys", _encryption_keys("dev:" + generated["encryption_key"]))
    return Settings(**values)
