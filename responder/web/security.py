"""Response headers that keep pages, sessions and link tokens safe in a browser."""

from __future__ import annotations

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Pages whose address carries a token: agency leads' acknowledgement and check-in links.
TOKEN_PATH_PREFIXES = ("/a/", "/c/")


def register(app: Flask) -> None:
    hsts = app.config.get("ENV_NAME") == "production"

    @app.after_request
    def secure_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.path.startswith(TOKEN_PATH_PREFIXES):
            # The token must not leak to another site through Referer, or sit in a cache.
            headers["Referrer-Policy"] = "no-referrer"
            headers["Cache-Control"] = "no-store"
        else:
            headers.setdefault("Referrer-Policy", "same-origin")
        if hsts:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
