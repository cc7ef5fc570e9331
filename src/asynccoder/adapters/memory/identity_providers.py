"""In-memory twins of the external identity providers: Clerk session tokens and GitHub's OAuth flow."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from asynccoder.application.auth.ports import (
    ClerkIdentity,
    ClerkTokenVerifier,
    GitHubGrant,
    GitHubIdentity,
    GitHubOAuth,
)
from asynccoder.domain.errors import InvalidInput, Unauthenticated


class InMemoryClerkTokenVerifier(ClerkTokenVerifier):
    """Knows the session tokens it was told about (``issue``); ``revoke`` makes one fail as Clerk would."""

    PREFIX = "clerk_"

    def __init__(self) -> None:
        self._tokens: dict[str, ClerkIdentity | None] = {}

    def issue(self, identity: ClerkIdentity) -> str:
        token = self.PREFIX + secrets.token_urlsafe(16)
        self._tokens[token] = identity
        return token

    def revoke(self, token: str) -> None:
        self._tokens[token] = None

    async def verify(self, token: str) -> ClerkIdentity | None:
        if not token.startswith(self.PREFIX):
            return None
        identity = self._tokens.get(token)
        if identity is None:
            raise Unauthenticated("The session token is not valid.")
        return identity


@dataclass
class _PendingGrant:
    challenge: str
    redirect_uri: str
    identity: GitHubIdentity
    used: bool = False


class InMemoryGitHubOAuth(GitHubOAuth):
    """GitHub's OAuth rules without the network: ``approve`` plays the user authorizing and returns a code;
    codes are single use and need the PKCE verifier and redirect URI they were issued for."""

    def __init__(self, *, client_id: str = "in-memory-client", scopes: tuple[str, ...] = ("repo",)) -> None:
        self._client_id = client_id
        self._scopes = scopes
        self._grants: dict[str, _PendingGrant] = {}
        self._tokens: dict[str, GitHubIdentity] = {}

    @property
    def configured(self) -> bool:
        return True

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        query = urlencode(
            {
                "client_id": self._client_id,
                "redirect_uri": redirect_uri,
                "scope": " ".join(self._scopes),
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"https://github.invalid/login/oauth/authorize?{query}"

    def approve(self, *, code_challenge: str, redirect_uri: str, identity: GitHubIdentity) -> str:
        code = secrets.token_hex(10)
        self._grants[code] = _PendingGrant(code_challenge, redirect_uri, identity)
        return code

    async def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> GitHubGrant:
        grant = self._grants.get(code)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).decode().rstrip("=")
        )
        if grant is None or grant.used or grant.redirect_uri != redirect_uri or grant.challenge != challenge:
            raise InvalidInput("GitHub did not accept the authorization code.", code="github_code_rejected")
        grant.used = True
        token = "gho_" + secrets.token_hex(18)
        self._tokens[token] = grant.identity
        return GitHubGrant(access_token=token, scopes=self._scopes)

    async def identity(self, access_token: str) -> GitHubIdentity:
        identity = self._tokens.get(access_token)
        if identity is None:
            raise InvalidInput("GitHub did not accept the new token.", code="github_code_rejected")
        return identity
