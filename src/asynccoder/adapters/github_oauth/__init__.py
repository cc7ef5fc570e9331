"""GitHub OAuth web flow over HTTP (httpx)."""
