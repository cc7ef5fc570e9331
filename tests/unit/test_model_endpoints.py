"""Custom model base URLs: https only, no credentials, no private hosts in production."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asynccoder.domain.errors import InvalidInput
from asynccoder.domain.model_endpoints import validate_model_base_url

PUBLIC = [
    "https://api.together.xyz/v1",
    "https://llm.example.com",
    "https://8.8.8.8/v1",
    "https://[2606:4700::1111]/v1",
]


@pytest.mark.parametrize("url", PUBLIC)
def test_public_https_urls_are_accepted_everywhere(url: str) -> None:
    assert validate_model_base_url(url + "/", production=True) == url
    assert validate_model_base_url(url, production=False) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com/v1",
        "ftp://api.example.com",
        "https://user:pass@api.example.com",
        "https://token@api.example.com",
        "https://api.example.com/v1?key=1",
        "https://api.example.com/v1#x",
        "api.example.com/v1",
        "https://",
        "https://api.example.com:99999",
        "https://api.exa mple.com",
        "",
    ],
)
def test_malformed_plain_http_or_credentialed_urls_are_refused_everywhere(url: str) -> None:
    for production in (True, False):
        with pytest.raises(InvalidInput) as caught:
            validate_model_base_url(url, production=production)
        assert caught.value.code == "invalid_base_url"
        assert caught.value.problems[0].field == "base_url"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/v1", "http://localhost:11434/v1", "http://[::1]:8000"]
)
def test_local_http_servers_are_allowed_outside_production_only(url: str) -> None:
    assert validate_model_base_url(url, production=False) == url
    with pytest.raises(InvalidInput):
        validate_model_base_url(url, production=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost/v1",
        "https://127.0.0.1/v1",
        "https://10.1.2.3",
        "https://192.168.0.10",
        "https://172.16.5.4",
        "https://169.254.169.254/latest",
        "https://[fe80::1]",
        "https://[fd00::1]",
        "https://[::ffff:10.0.0.1]",
        "https://0.0.0.0",
        "https://metadata.google.internal",
        "https://printer.local",
        "https://intranet",
        "https://2130706433",
        "https://0x7f.0.0.1",
    ],
)
def test_private_loopback_and_link_local_hosts_are_refused_in_production(url: str) -> None:
    with pytest.raises(InvalidInput):
        validate_model_base_url(url, production=True)


@given(st.ip_addresses())
def test_in_production_an_ip_host_is_accepted_exactly_when_it_is_global(
    address: ipaddress._BaseAddress,
) -> None:
    host = f"[{address}]" if address.version == 6 else str(address)
    mapped = getattr(address, "ipv4_mapped", None)
    effective = mapped if mapped is not None else address
    public = effective.is_global and not effective.is_multicast
    try:
        validate_model_base_url(f"https://{host}/v1", production=True)
        accepted = True
    except InvalidInput:
        accepted = False
    assert accepted == public


@given(st.text(max_size=60))
def test_arbitrary_text_is_either_refused_or_an_https_url_without_credentials(text: str) -> None:
    for production in (True, False):
        try:
            result = validate_model_base_url(text, production=production)
        except InvalidInput:
            continue
        assert result.startswith(("https://", "http://"))
        assert "@" not in result
        if production:
            assert result.startswith("https://")


@given(
    st.sampled_from(["https", "http"]),
    st.text(alphabet="abc:@", min_size=1, max_size=12),
    st.sampled_from(["api.example.com", "127.0.0.1", "10.0.0.1"]),
)
def test_userinfo_is_never_accepted(scheme: str, userinfo: str, host: str) -> None:
    url = f"{scheme}://{userinfo}@{host}/v1"
    for production in (True, False):
        with pytest.raises(InvalidInput):
            validate_model_base_url(url, production=production)
