"""The lock files: each agrees with the requirements file it was made from, and a tampered one is named.

`.ci/locks check` runs in CI and before `make test` and `make run` install
anything; these tests run it on the real files and on changed copies.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

FILES = [
    "requirements.txt",
    "requirements-dev.txt",
    "requirements-build.txt",
    "requirements.lock",
    "requirements-dev.lock",
    "requirements-build.lock",
]


def lock_check(root: Path) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, str(root / ".ci" / "locks"), "check"], capture_output=True, text=True, check=False
    )
    return done.returncode, (done.stdout + done.stderr).splitlines()


@pytest.fixture
def copy(tmp_path) -> Path:
    """The requirements files, their locks and the check script, in a folder of their own."""
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "locks", tmp_path / ".ci" / "locks")
    for name in FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_the_committed_locks_agree_with_their_requirements():
    code, lines = lock_check(ROOT)
    assert code == 0, lines
    assert lines[-1].startswith("lock check: every requirements file agrees with its lock")


def test_every_locked_package_has_a_hash_and_docopt_is_locked_as_source():
    lock = (ROOT / "requirements.lock").read_text()
    pins = re.findall(r"^([a-z0-9][a-z0-9._-]*)==", lock, re.MULTILINE)
    assert len(pins) > 40 and {"werkzeug", "jinja2", "requests", "urllib3", "pyjwt", "docopt"} <= set(pins)
    for block in re.split(r"\n(?=[a-z0-9])", lock.split("\n", 2)[2]):
        assert "--hash=sha256:" in block, block.splitlines()[0]
    build = (ROOT / "requirements-build.lock").read_text()
    assert re.search(r"^setuptools==", build, re.MULTILINE) and re.search(r"^pip==", build, re.MULTILINE)


def test_a_package_added_without_make_lock_is_named(copy):
    (copy / "requirements.txt").write_text((copy / "requirements.txt").read_text() + "tomli-w==1.2.0\n")
    code, lines = lock_check(copy)
    assert code == 1
    assert any(
        re.fullmatch(
            r"lock check: requirements\.txt:\d+ asks for tomli-w==1\.2\.0 but requirements\.lock has "
            r"no tomli-w: run `make lock` and commit both files",
            line,
        )
        for line in lines
    ), lines


def test_a_version_changed_on_one_side_is_named(copy):
    edit(copy / "requirements.lock", "\nflask==3.1.3 ", "\nflask==3.1.2 ")
    code, lines = lock_check(copy)
    assert code == 1
    assert any(
        "requirements.txt:" in line and "asks for Flask==3.1.3 but requirements.lock has flask 3.1.2" in line
        for line in lines
    ), lines
    assert any(
        "flask is 3.1.3 in requirements-dev.lock but 3.1.2 in requirements.lock" in line for line in lines
    )


def test_a_package_slipped_into_a_lock_is_named(copy):
    lock = copy / "requirements.lock"
    lock.write_text(lock.read_text() + "evil-package==6.6.6 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    code, lines = lock_check(copy)
    assert code == 1
    assert any("requirements.lock still holds evil-package==6.6.6 (via nothing)" in line for line in lines), (
        lines
    )


def test_a_pin_whose_hashes_were_removed_is_named(copy):
    lock = copy / "requirements.lock"
    kept = [line for line in lock.read_text().splitlines(keepends=True)]
    start = next(i for i, line in enumerate(kept) if line.startswith("docopt=="))
    end = next(i for i in range(start + 1, len(kept)) if not kept[i].lstrip().startswith("--hash"))
    lock.write_text("".join([*kept[:start], "docopt==0.6.2\n", *kept[end:]]))
    code, lines = lock_check(copy)
    assert code == 1
    assert any("requirements.lock: docopt==0.6.2 has no --hash" in line for line in lines), lines


def test_a_requirement_that_is_not_pinned_is_named(copy):
    edit(copy / "requirements.txt", "redis==8.1.0", "redis>=8")
    code, lines = lock_check(copy)
    assert code == 1
    assert any("'redis>=8' is not pinned to one version" in line for line in lines), lines


def test_make_installs_only_hash_checked_locks():
    makefile = (ROOT / "Makefile").read_text()
    installs = [
        line.strip() for line in makefile.splitlines() if "pip install" in line or "$(PIP_LOCKED)" in line
    ]
    assert installs and all("--require-hashes" in line or "$(PIP_LOCKED)" in line for line in installs), (
        installs
    )
    assert "PIP_LOCKED := $(BIN)/python -m pip install --quiet --require-hashes" in makefile
    assert not re.search(r"-r requirements(-dev)?\.txt", makefile)
