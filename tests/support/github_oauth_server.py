"""A local stand-in for GitHub's OAuth web flow and ``GET /user``, checking what it receives."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs

from tests.support.local_http import LocalServer, Request, json_response


@dataclass
class _Grant:
    challenge: str
    redirect_uri: str
    used: bool = False


class GitHubOAuthServer:
    """Speaks ``POST /login/oauth/access_token`` (form body, JSON answer when asked, errors as 200 with
    ``error`` like GitHub) and ``GET /user`` (Bearer token). ``approve()`` plays the user clicking
    "Authorize" and returns the code GitHub would put in the redirect."""

    def __init__(
        self, *, client_id: str, client_secret: str, login: str = "octocat", user_id: int = 583231
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.login = login
        self.user_id = user_id
        self.scope = "repo,read:user"
        self.issued_tokens: list[str] = []
        self.outages = 0  # the next N token exchanges get GitHub's 503 "unicorn" page
        self._grants: dict[str, _Grant] = {}
        self._server = LocalServer(self._handle)

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def requests(self) -> list[Request]:
        return self._server.requests

    def approve(self, *, code_challenge: str, redirect_uri: str) -> str:
        code = secrets.token_hex(10)
        self._grants[code] = _Grant(challenge=code_challenge, redirect_uri=redirect_uri)
        return code

    def _handle(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        if request.method == "POST" and request.path == "/login/oauth/access_token":
            return self._token(request)
        if request.method == "GET" and request.path == "/user":
            return self._user(request)
        return json_response(404, {"message": "Not Found"})

    def _token(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        if self.outages > 0:
            self.outages -= 1
            return (
                503,
                {"Content-Type": "text/html; charset=utf-8"},
                b"<html><body>No server is currently available to service your request.</body></html>",
            )
        if request.headers.get("accept") != "application/json":
            return 200, {"Content-Type": "application/x-www-form-urlencoded"}, b"error=not_json"
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return json_response(200, {"error": "incorrect_client_credentials"})
        grant = self._grants.get(form.get("code", ""))
        if grant is None or grant.used or form.get("redirect_uri") != grant.redirect_uri:
            return json_response(200, {"error": "bad_verification_code"})
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if challenge != grant.challenge:
            return json_response(200, {"error": "invalid_grant", "error_description": "code_verifier"})
        grant.used = True
        token = "gho_" + secrets.token_hex(18)
        self.issued_tokens.append(token)
        return json_response(200, {"access_token": token, "token_type": "bearer", "scope": self.scope})

    def _user(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.issued_tokens:
            return json_response(401, {"message": "Bad credentials"})
        return json_response(
            200,
            {"login": self.login, "id": self.user_id, "type": "User", "name": "The Octocat"},
            headers={"X-OAuth-Scopes": self.scope.replace(",", ", ")},
        )

    def close(self) -> None:
        self._server.close()
