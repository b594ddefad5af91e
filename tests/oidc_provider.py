"""A small OpenID Connect provider on 127.0.0.1 for the tests: its own RSA keys, a discovery
document, a JWKS, a token endpoint that checks PKCE and the client's secret, and ID tokens
signed as each test asks (a wrong audience, an expired token, another key, another nonce...).

The browser's visit to the authorization endpoint is played by the test: it reads the
parameters Responder sent and calls :meth:`OidcProvider.issue_code`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.serving import POLL_SECONDS

CLIENT_ID = "responder-test-client"
CLIENT_SECRET = "responder-test-client-secret"
KEY_ID = "test-key-1"


@dataclass
class Grant:
    nonce: str
    code_challenge: str
    redirect_uri: str
    claims: dict[str, Any]
    sign_with: RSAKey | None = None


@dataclass
class OidcProvider:
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": KEY_ID}))
    other_key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": KEY_ID}))
    grants: dict[str, Grant] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self) -> dict[str, Any]:
        return KeySet([self.key]).as_dict(private=False)

    def claims(self, nonce: str, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "entra-object-id-1234",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "email": "olu.officer@coventry.example.gov.uk",
            "name": "Olu Officer",
            "roles": ["Responder.Officer", "Responder.Area.Coventry"],
            "amr": ["pwd", "mfa"],
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not None}

    def issue_code(
        self, authorize_params: dict[str, str], *, bad_signature: bool = False, **changes: Any
    ) -> str:
        """What the provider does when the person signs in there: a code for these claims."""
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(
            nonce=authorize_params["nonce"],
            code_challenge=authorize_params["code_challenge"],
            redirect_uri=authorize_params["redirect_uri"],
            claims=self.claims(changes.pop("nonce", authorize_params["nonce"]), **changes),
            sign_with=self.other_key if bad_signature else None,
        )
        return code

    def token_response(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        if not self._client_authenticated(form, authorization):
            return 401, {"error": "invalid_client"}
        grant = self.grants.pop(form.get("code", ""), None)
        if grant is None or form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != grant.code_challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        id_token = jwt.encode({"alg": "RS256", "kid": KEY_ID}, grant.claims, grant.sign_with or self.key)
        return 200, {
            "access_token": secrets.token_urlsafe(16),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        }

    @staticmethod
    def _client_authenticated(form: dict[str, str], authorization: str | None) -> bool:
        if authorization and authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
            return decoded == f"{CLIENT_ID}:{CLIENT_SECRET}"
        return form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET

    def start(self) -> OidcProvider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                return

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    return self._json(200, provider.discovery())
                if self.path == "/jwks":
                    return self._json(200, provider.jwks())
                return self._json(404, {"error": "not_found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if self.path != "/token":
                    return self._json(404, {"error": "not_found"})
                return self._json(*provider.token_response(form, self.headers.get("Authorization")))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(POLL_SECONDS,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
