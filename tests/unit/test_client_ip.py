"""The client address: X-Forwarded-For is believed only from trusted proxies."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from asynccoder.entrypoints.http.client_ip import client_ip, parse_networks

PROXIES = parse_networks(("10.0.0.0/8", "fd00::/8"))


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_ip("203.0.113.9", ["198.51.100.1"], ()) == "203.0.113.9"


def test_an_untrusted_peer_cannot_choose_its_address_with_the_header() -> None:
    assert client_ip("203.0.113.9", ["1.2.3.4"], PROXIES) == "203.0.113.9"


def test_behind_a_trusted_proxy_the_last_untrusted_hop_is_the_client() -> None:
    assert client_ip("10.0.0.5", ["1.2.3.4, 198.51.100.7"], PROXIES) == "198.51.100.7"


def test_chained_trusted_proxies_are_skipped() -> None:
    assert client_ip("10.0.0.5", ["198.51.100.7, 10.1.1.1", "10.2.2.2"], PROXIES) == "198.51.100.7"


def test_a_spoofed_leftmost_entry_is_ignored() -> None:
    # The client sent "X-Forwarded-For: 9.9.9.9"; the proxy appended the real address.
    assert client_ip("10.0.0.5", ["9.9.9.9, 203.0.113.50"], PROXIES) == "203.0.113.50"


def test_garbage_in_the_header_stops_at_the_last_real_address() -> None:
    assert client_ip("10.0.0.5", ["not-an-ip, 10.3.3.3"], PROXIES) == "10.3.3.3"


def test_a_trusted_peer_without_the_header_is_itself_the_client() -> None:
    assert client_ip("10.0.0.5", [], PROXIES) == "10.0.0.5"


def test_ipv6_works_and_a_missing_peer_is_unknown() -> None:
    assert client_ip("fd00::1", ["2001:db8::5"], PROXIES) == "2001:db8::5"
    assert client_ip(None, ["1.2.3.4"], PROXIES) == "unknown"


@given(
    peer=st.ip_addresses(v=4).filter(lambda a: not a.is_private),
    header=st.lists(st.text(max_size=40), max_size=4),
)
def test_an_untrusted_peer_is_always_the_client_whatever_it_sends(peer: object, header: list[str]) -> None:
    assert client_ip(str(peer), header, PROXIES) == str(peer)


@given(
    client=st.ip_addresses(v=4).filter(lambda a: not a.is_private),
    spoofed=st.lists(st.ip_addresses(v=4), max_size=3),
)
def test_behind_one_trusted_proxy_spoofed_entries_never_win(client: object, spoofed: list[object]) -> None:
    header = ", ".join([*(str(s) for s in spoofed), str(client)])
    assert client_ip("10.0.0.1", [header], PROXIES) == str(client)
