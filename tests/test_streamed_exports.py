"""Exports stream as a real server sends them: after the view has returned.

gunicorn reads a streamed body once the view is done, and Flask has by then
torn down the request's app context and closed its database session. The
test client hides that when a test keeps its own app context open, so these
requests go to a second app whose context is gone before the body is read.
"""

from __future__ import annotations

import io
import json

import pytest
from pypdf import PdfReader

from .conftest import PASSWORD


@pytest.mark.parametrize("redacted", ["", "?redacted=1"])
@pytest.mark.parametrize("extension", ["csv", "json", "pdf"])
def test_an_export_is_whole_when_read_after_the_view_returns(
    make_app, make_incident, make_user, extension, redacted
):
    incident = make_incident()
    manager = make_user("manager")
    client = make_app().test_client()
    assert client.post("/login", data={"email": manager.email, "password": PASSWORD}).status_code == 302

    response = client.get(f"/incidents/{incident.reference}/export.{extension}{redacted}", buffered=False)
    body = b"".join(response.iter_encoded())  # read now, as the server would
    response.close()

    assert response.status_code == 200
    if extension == "json":
        assert json.loads(body)["incident"]["reference"] == incident.reference
    elif extension == "csv":
        assert body.startswith("\ufeff".encode()) and b"opened" in body.lower()
    else:
        assert incident.reference in PdfReader(io.BytesIO(body)).pages[0].extract_text()
