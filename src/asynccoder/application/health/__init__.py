"""Readiness of the platform and its dependencies."""
