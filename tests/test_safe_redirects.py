"""After sign-in, ``next`` may only lead somewhere on this site (issue 17, item 6)."""

from __future__ import annotations

import pytest

from responder.web.safe_redirects import same_site_path

from .conftest import PASSWORD


def test_a_tab_before_a_second_slash_no_longer_leads_off_the_site(client, make_user):
    """The finding: the check ran before the URL library stripped tab, CR and LF."""
    user = make_user()
    response = client.post("/login?next=/%09/evil.example", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] in ("/", "/incidents", "/incidents/")
    assert "evil.example" not in response.headers["Location"]


def test_a_same_site_path_is_kept(client, make_user):
    user = make_user()
    response = client.post(
        "/login?next=/incidents/new%3Fx%3D1", data={"email": user.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/incidents/new?x=1"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\t/evil.example",
        "/\r\n/evil.example",
        "/\x00/evil.example",
        "\\\\evil.example",
        "/\\/evil.example",
        "https://evil.example/",
        "http:/evil.example",
        "javascript:alert(1)",
        "evil.example",
        " //evil.example",
        "",
        None,
        "/" + "x" * 3000,
    ],
)
def test_anything_but_a_same_site_path_is_refused(target):
    assert same_site_path(target) is None


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        ("/incidents", "/incidents"),
        ("/incidents/BHM-2026-0001?kind=update", "/incidents/BHM-2026-0001?kind=update"),
        ("/a\tb", "/ab"),
        ("/\\evil.example", "/evil.example"),
    ],
)
def test_same_site_paths_are_kept_without_control_characters(target, kept):
    assert same_site_path(target) == kept
