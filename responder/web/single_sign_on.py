"""Single sign-on with OpenID Connect (authorization code with PKCE), through Authlib.

``OIDC_ISSUER``, ``OIDC_CLIENT_ID`` and ``OIDC_CLIENT_SECRET`` configure it; the
provider's discovery document and keys are fetched at the first sign-in, never
when the app starts.
"""

from __future__ import annotations

import logging

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, abort, current_app, render_template, request, session
from joserfc.errors import JoseError

from responder.accounts.single_sign_on import Refusal, SingleSignOnRefused, user_for_claims
from responder.links import public_url
from responder.models import SignInMethod
from responder.unit_of_work import retried_on_conflict
from responder.web.safe_redirects import same_site_path
from responder.web.sign_in_flow import complete_sign_in

bp = Blueprint("single_sign_on", __name__)
log = logging.getLogger(__name__)
NEXT_KEY = "sso_next"
# What can go wrong between the browser, the provider and us: a refused or forged answer,
# an unreachable provider, a token that fails validation.
_PROVIDER_TROUBLE = (AuthlibBaseError, JoseError, requests.RequestException, KeyError, ValueError, TypeError)


def _client():
    """This app's OpenID Connect client, rebuilt when its settings change (tests change them)."""
    config = current_app.config
    if not config.get("OIDC_ISSUER"):
        abort(404)
    settings = (config["OIDC_ISSUER"].rstrip("/"), config["OIDC_CLIENT_ID"], config["OIDC_CLIENT_SECRET"])
    built = current_app.extensions.get("responder.oidc")
    if built is None or built[0] != settings:
        oauth = OAuth()
        oauth.init_app(current_app)
        client = oauth.register(
            "sso",
            client_id=settings[1],
            client_secret=settings[2],
            server_metadata_url=settings[0] + "/.well-known/openid-configuration",
            client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256", "timeout": 10},
        )
        built = (settings, client)
        current_app.extensions["responder.oidc"] = built
    return built[1]


@bp.get("/login/sso")
def start():
    client = _client()
    next_url = same_site_path(request.args.get("next"))
    session.pop(NEXT_KEY, None)
    if next_url:
        session[NEXT_KEY] = next_url
    try:
        return client.authorize_redirect(redirect_uri=public_url("/login/sso/callback"))
    except _PROVIDER_TROUBLE as error:
        log.warning("single sign-on: the identity provider could not be reached (%s)", type(error).__name__)
        return render_template("auth/sso_refused.html", reason="unreachable"), 502


@bp.get("/login/sso/callback")
@retried_on_conflict
def callback():
    client = _client()
    next_url = session.get(NEXT_KEY)
    try:
        token = client.authorize_access_token()
        claims = token["userinfo"]
    except _PROVIDER_TROUBLE as error:
        # Wrong audience, expired, bad signature, wrong nonce, state mismatch...: never signed in.
        log.warning(
            "single sign-on refused: the provider's answer did not validate (%s)", type(error).__name__
        )
        return render_template("auth/sso_refused.html", reason="invalid"), 401
    try:
        user = user_for_claims(claims, current_app.config)
    except SingleSignOnRefused as refused:
        log.info("single sign-on refused: %s", refused.reason)
        return render_template("auth/sso_refused.html", reason=refused.reason), 403
    return complete_sign_in(user, SignInMethod.SINGLE_SIGN_ON, next_url)


__all__ = ["Refusal", "bp"]
