"""CORS settings: no origins by default, exact origins only, credentials off unless asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from asynccoder.ioc.settings import SettingsError, load_settings


def test_no_origin_is_allowed_and_credentials_are_off_by_default(tmp_path: Path) -> None:
    settings = load_settings({"ASYNCCODER_DATA_DIR": str(tmp_path)})

    assert settings.cors_allowed_origins == ()
    assert settings.cors_allow_credentials is False


def test_origins_are_read_as_a_normalised_list(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "ASYNCCODER_DATA_DIR": str(tmp_path),
            "CORS_ALLOWED_ORIGINS": "https://App.Example.com/, http://localhost:5173",
            "CORS_ALLOW_CREDENTIALS": "true",
        }
    )

    assert settings.cors_allowed_origins == ("https://app.example.com", "http://localhost:5173")
    assert settings.cors_allow_credentials is True


@pytest.mark.parametrize(
    "bad",
    [
        "app.example.com",
        "ftp://app.example.com",
        "https://app.example.com/path",
        "https://*.example.com",
        "https://user:pw@app.example.com",
        "https://app.example.com?x=1",
        "https://app.example.com,*",
    ],
)
def test_anything_but_an_origin_or_a_lone_star_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"ASYNCCODER_DATA_DIR": str(tmp_path), "CORS_ALLOWED_ORIGINS": bad})

    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("CORS_ALLOWED_ORIGINS ")


def test_any_origin_with_credentials_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {
                "ASYNCCODER_DATA_DIR": str(tmp_path),
                "CORS_ALLOWED_ORIGINS": "*",
                "CORS_ALLOW_CREDENTIALS": "true",
            }
        )

    assert caught.value.problems == [
        "CORS_ALLOW_CREDENTIALS=true needs CORS_ALLOWED_ORIGINS to list origins, not *"
    ]


def test_any_origin_without_credentials_is_accepted(tmp_path: Path) -> None:
    settings = load_settings({"ASYNCCODER_DATA_DIR": str(tmp_path), "CORS_ALLOWED_ORIGINS": "*"})

    assert settings.cors_allowed_origins == ("*",)
