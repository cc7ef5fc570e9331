"""Outbound webhook adapters: DNS resolution and the HTTP sender."""
