"""Structured logs: JSON lines with the request id, secrets masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from asynccoder.entrypoints.observability import configure_logging


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(level="INFO", fmt="json", stream=stream)
    yield stream
    configure_logging(level="WARNING", fmt="console")


def last_line(stream: io.StringIO) -> dict[str, Any]:
    return json.loads(stream.getvalue().strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_production_logs_are_json_lines_carrying_the_bound_request_id(json_logs: io.StringIO) -> None:
    with structlog.contextvars.bound_contextvars(request_id="req-1"):
        structlog.get_logger("asynccoder.test").info("did_something", items=3)
    line = last_line(json_logs)
    assert line["event"] == "did_something"
    assert line["request_id"] == "req-1"
    assert line["items"] == 3
    assert line["level"] == "info"


def test_values_under_secret_looking_keys_are_masked(json_logs: io.StringIO) -> None:
    structlog.get_logger("asynccoder.test").info("login", password="hunter2", api_key="sk-canary", user="ada")
    output = json_logs.getvalue()
    assert "hunter2" not in output
    assert "sk-canary" not in output
    assert "ada" in output


def test_stdlib_loggers_go_through_the_same_renderer(json_logs: io.StringIO) -> None:
    logging.getLogger("some.library").warning("plain message")
    line = last_line(json_logs)
    assert line["event"] == "plain message"
    assert line["logger"] == "some.library"
