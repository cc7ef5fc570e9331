"""Cryptography adapters: access tokens and encryption of secrets at rest."""
