"""Accounts: profile, user administration and connected GitHub accounts."""
