"""The container files: compose.yaml and the Dockerfile describe a deployment the settings accept.

No container engine runs here; `.ci/run` also has docker-compose validate compose.yaml against its schema.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from asynccoder.entrypoints.cli import build_parser
from asynccoder.ioc.settings import ENVIRONMENT_VARIABLES, load_settings

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ("POSTGRES_PASSWORD", "JWT_SECRET", "ENCRYPTION_KEYS")
REAL_LOOKING = {
    "POSTGRES_PASSWORD": "s3cretpassw0rd",
    "JWT_SECRET": "jQ7-vR2xLw9_mN4tKp8ZbC3dYf6HsGa1EuWo5Ti0",
    "ENCRYPTION_KEYS": "k1:" + "a" * 43,
}
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Z_][A-Z0-9_]*)(?:(?P<op>:\?|:-)(?P<arg>[^}]*))?\}")


class MissingVariable(Exception):
    pass


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` (empty counts as unset for both)."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        current = env.get(name, "")
        if current:
            return current
        if op == ":?":
            raise MissingVariable(f"{name}: {arg}")
        return arg if op == ":-" else ""

    return _VARIABLE.sub(one, value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def service_environment(compose: dict[str, Any], service: str, env: Mapping[str, str]) -> dict[str, str]:
    raw = compose["services"][service]["environment"]
    return {name: interpolate(str(value), env) for name, value in raw.items()}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    pairs = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            instruction, _, arguments = stripped.partition(" ")
            pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def test_compose_runs_the_api_a_worker_a_migration_postgres_and_redis(compose: dict[str, Any]) -> None:
    services = compose["services"]

    assert set(services) == {"api", "worker", "migrate", "postgres", "redis"}
    assert services["api"]["command"][:2] == ["asynccoder", "serve"]
    assert services["worker"]["command"] == ["asynccoder", "worker"]
    assert services["migrate"]["command"] == ["asynccoder", "migrate"]
    assert {services[name]["image"] for name in ("api", "worker", "migrate")} == {"asynccoder:local"}
    assert {services[name]["build"] for name in ("api", "worker", "migrate")} == {"."}
    parser = build_parser()
    for name in ("api", "worker", "migrate"):
        parser.parse_args(services[name]["command"][1:])  # a command the CLI really has (exits otherwise)


def test_the_api_and_the_worker_start_after_healthy_services_and_the_migration(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in ("api", "worker"):
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }
    for name in ("postgres", "redis", "api"):
        assert services[name]["healthcheck"]["test"][0] in {"CMD", "CMD-SHELL"}
    assert "/health/live" in " ".join(services["api"]["healthcheck"]["test"])


def test_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]

    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "worker-data:/var/lib/asynccoder" in services["worker"]["volumes"]
    assert set(compose["volumes"]) == {"postgres-data", "worker-data"}


def test_every_secret_is_required_and_has_no_default(compose: dict[str, Any]) -> None:
    for missing in SECRETS:
        env = {name: value for name, value in REAL_LOOKING.items() if name != missing}
        with pytest.raises(MissingVariable, match=missing):
            service_environment(compose, "api", env)
    text = (ROOT / "compose.yaml").read_text()
    for secret in SECRETS:
        assert re.search(rf"\$\{{{secret}:-", text) is None


@pytest.mark.parametrize("service", ["api", "worker", "migrate"])
def test_the_application_environment_is_a_valid_production_configuration(
    compose: dict[str, Any], service: str
) -> None:
    env = service_environment(compose, service, REAL_LOOKING)

    assert set(env) <= set(ENVIRONMENT_VARIABLES)  # no misspelt setting is silently ignored
    settings = load_settings(env)  # raises SettingsError listing every problem

    assert settings.is_production
    assert settings.database_url == "postgresql+psycopg://asynccoder:s3cretpassw0rd@postgres:5432/asynccoder"
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.task_events_transport == "redis"
    assert settings.runs_embedded_worker is False
    assert settings.cors_allowed_origins == ()


def test_postgres_is_created_with_the_credentials_the_application_uses(compose: dict[str, Any]) -> None:
    postgres = service_environment(compose, "postgres", REAL_LOOKING)
    app = service_environment(compose, "api", REAL_LOOKING)

    user, database = postgres["POSTGRES_USER"], postgres["POSTGRES_DB"]
    assert app["DATABASE_URL"].endswith(f"://{user}:{postgres['POSTGRES_PASSWORD']}@postgres:5432/{database}")
    assert f"-U {user} -d {database}" in compose["services"]["postgres"]["healthcheck"]["test"][1]


def test_the_dockerfile_builds_a_slim_non_root_image_from_the_lock() -> None:
    instructions = dockerfile_instructions()
    stages = [args for instruction, args in instructions if instruction == "FROM"]
    runs = " ".join(args for instruction, args in instructions if instruction == "RUN")
    users = [args for instruction, args in instructions if instruction == "USER"]

    assert len(stages) == 2
    assert all(stage.startswith("python:3.11-slim ") for stage in stages)
    assert "pip install -c constraints.txt ." in runs
    apt = re.search(r"apt-get install ([^&]*)", runs)
    assert apt is not None
    assert {"git", "bubblewrap", "ripgrep"} <= set(apt.group(1).split())
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    for instruction, args in instructions:
        if instruction == "COPY" and not args.startswith("--from"):
            *sources, _destination = shlex.split(args)
            for source in sources:
                assert (ROOT / source).exists(), source


def test_the_image_checks_its_health_on_the_port_it_serves() -> None:
    instructions = dict(dockerfile_instructions())
    command = yaml.safe_load(instructions["CMD"])

    assert command[:2] == ["asynccoder", "serve"]
    port = command[command.index("--port") + 1]
    assert f"http://127.0.0.1:{port}/health/live" in instructions["HEALTHCHECK"]
    assert instructions["EXPOSE"] == port
    build_parser().parse_args(command[1:])


def test_the_build_context_leaves_out_local_secrets_and_data() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*"  # everything is excluded, then only what the build needs is let back in
    assert {rule for rule in rules if rule.startswith("!")} == {
        "!constraints.txt",
        "!pyproject.toml",
        "!README.md",
        "!src/",
    }
