"""Accessibility checks with axe-core (from npm: node_modules/axe-core) inside the page under test.

axe is evaluated through the DevTools protocol, so the page's own
Content-Security-Policy (no inline scripts) stays in force for everything else.
"""

from __future__ import annotations

import json
from functools import cache

from playwright.sync_api import Page

from .server import ARTIFACTS, ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
# WCAG 2.2 A and AA, plus axe's best practices (headings, landmarks, regions).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@cache
def _axe_source() -> str:
    if not AXE.exists():
        raise AssertionError(f"{AXE} is missing: run `npm ci` (axe-core is a devDependency)")
    return AXE.read_text(encoding="utf-8")


def check_accessibility(page: Page, name: str) -> list[dict]:
    """Run axe on the page as it is now; fail on serious or critical violations.

    Every finding (of any impact) is written to test-artifacts/axe/<name>.json.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source() + "\n;true")
    results = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        TAGS,
    )
    violations = results["violations"]
    folder = ARTIFACTS / "axe"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(violations, indent=2), encoding="utf-8")
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"axe: {name} ({page.url}) has serious or critical violations:\n" + "\n".join(
        _describe(v) for v in blocking
    )
    return violations


def _describe(violation: dict) -> str:
    targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
    return f"  [{violation['impact']}] {violation['id']}: {violation['help']} — {targets}"
