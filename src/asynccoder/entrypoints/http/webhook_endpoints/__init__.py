"""Outbound webhook endpoints over HTTP."""
