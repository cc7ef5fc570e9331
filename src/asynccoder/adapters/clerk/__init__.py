"""Clerk: session-token verification against Clerk's JWKS."""
