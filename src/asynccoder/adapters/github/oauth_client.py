"""GitHub's OAuth web flow and ``GET /user`` over httpx."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

import httpx
import structlog

from asynccoder.application.ports.code_hosting import (
    GitHubGrant,
    GitHubIdentity,
    GitHubOAuth,
)
from asynccoder.domain.errors import InvalidInput, Unavailable

log = structlog.get_logger("asynccoder.github_oauth")


def _unavailable() -> Unavailable:
    return Unavailable("GitHub cannot be reached right now.", code="github_unavailable")


class HttpxGitHubOAuth(GitHubOAuth):
    """``{oauth_url}/login/oauth/authorize`` and ``/login/oauth/access_token`` (form POST, JSON answer),
    ``{api_url}/user`` with the user's token. Works with GitHub Enterprise by changing the two URLs."""

    def __init__(
        self,
        *,
        oauth_url: str,
        api_url: str,
        client_id: str | None,
        client_secret: str | None,
        scopes: Sequence[str],
        http: httpx.AsyncClient,
    ) -> None:
        self._oauth_url = oauth_url.rstrip("/")
        self._api_url = api_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._scopes = tuple(scopes)
        self._http = http

    @property
    def configured(self) -> bool:
        return bool(self._client_id and self._client_secret)

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        query = urlencode(
            {
                "client_id": self._client_id or "",
                "redirect_uri": redirect_uri,
                "scope": " ".join(self._scopes),
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
                "allow_signup": "false",
            }
        )
        return f"{self._oauth_url}/login/oauth/authorize?{query}"

    async def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> GitHubGrant:
        try:
            response = await self._http.post(
                f"{self._oauth_url}/login/oauth/access_token",
                data={
                    "client_id": self._client_id or "",
                    "client_secret": self._client_secret or "",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": code_verifier,
                },
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            log.warning("github_token_exchange_failed", error=type(exc).__name__)
            raise _unavailable() from None
        if response.status_code >= 500:
            raise _unavailable()
        try:
            body = response.json()
        except ValueError:
            raise _unavailable() from None
        token = body.get("access_token") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(token, str) or not token:
            # GitHub answers 200 with {"error": "bad_verification_code", ...} for a bad or used code.
            error = body.get("error") if isinstance(body, dict) else None
            log.info("github_code_rejected", error=str(error)[:64])
            raise InvalidInput("GitHub did not accept the authorization code.", code="github_code_rejected")
        scope = body.get("scope", "")
        scopes = tuple(s for s in str(scope).replace(" ", ",").split(",") if s)
        return GitHubGrant(access_token=token, scopes=scopes)

    async def identity(self, access_token: str) -> GitHubIdentity:
        try:
            response = await self._http.get(
                f"{self._api_url}/user",
                headers={
                    "Authorization": f"Bearer {access_token}",
                    "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": "2022-11-28",
                },
            )
        except httpx.HTTPError as exc:
            log.warning("github_user_failed", error=type(exc).__name__)
            raise _unavailable() from None
        if response.status_code == 401:
            raise InvalidInput("GitHub did not accept the new token.", code="github_code_rejected")
        if response.status_code != 200:
            raise _unavailable()
        try:
            body = response.json()
            return GitHubIdentity(github_user_id=int(body["id"]), login=str(body["login"])[:100])
        except (ValueError, KeyError, TypeError):
            raise _unavailable() from None
