"""The JSON API against its own OpenAPI description, fuzzed by schemathesis on the live server.

Every phase runs (coverage of boundaries, random fuzzing, and stateful runs
that follow the "open, then read" link) with every check: no 500s, every
status, content type, header and body as described, auth never ignored,
wrong methods answered 405 with Allow. The report lands in
test-artifacts/schemathesis/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .server import ARTIFACTS, ROOT

ST = Path(sys.executable).with_name("st")
# Enough to find boundary and encoding bugs in two operations, within a few minutes on two cores.
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "100")


def test_the_api_keeps_to_its_openapi_description(live_server):
    report = ARTIFACTS / "schemathesis"
    command = [str(ST), "run", f"{live_server.url}/api/v1/openapi.json"]
    options = {
        "--header": f"Authorization: Bearer {live_server.api_token}",
        "--checks": "all",
        "--max-examples": MAX_EXAMPLES,
        "--workers": "2",
        "--request-timeout": "30",
        "--report": "junit,har",
        "--report-dir": str(report),
        "--output-truncate": "false",
    }
    command += [part for option in options.items() for part in option]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks",
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
    }
    report.mkdir(parents=True, exist_ok=True)
    # Run from the report folder: schemathesis keeps its cache (.schemathesis/) where it runs.
    done = subprocess.run(
        command, cwd=report, env=env, capture_output=True, text=True, timeout=1200, check=False
    )
    (report / "output.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
    assert done.returncode == 0, (
        f"schemathesis found problems:\n{done.stdout[-20000:]}\n{done.stderr[-4000:]}"
    )
