"""Fetch the SDK's own test suites from the registry and run them with our store in the slot.

The suites are ``tests/test_store.py``, ``tests/test_chatkit_server.py`` and
``tests/test_agents.py`` of the openai-chatkit sdist of the *installed* version, fetched with
``pip download --no-binary`` at test time and never committed. The sdist ships the tests but
not their helpers; the slot files of this package stand in for them (``helpers/mock_store.py``
is our ``PostgresStore``). Each suite runs in its own pytest process, in the sdist's folder
and with the sdist's own pytest configuration, and reports to a JUnit XML file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .known_differences import KnownDifference

SLOT = Path(__file__).parent
# Where each slot file goes in the sdist's tests folder.
SLOT_FILES = {
    "slot_conftest.py": "conftest.py",
    "slot_types.py": "_types.py",
    "slot_store.py": "helpers/mock_store.py",
}
SUITES = ("test_store.py", "test_chatkit_server.py", "test_agents.py")


class SdistUnavailableError(RuntimeError):
    """The sdist could not be downloaded (no registry reachable)."""


def installed_version() -> str:
    return metadata.version("openai-chatkit")


def download_sdk_tests(into: Path) -> Path:
    """Download and unpack the installed openai-chatkit's sdist; return its root folder.

    Raises:
        SdistUnavailableError: pip could not download it; the message has pip's last words.
    """
    version = installed_version()
    downloads = into / "download"
    done = subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--no-binary", ":all:", "--disable-pip-version-check", "--dest", str(downloads),
            f"openai-chatkit=={version}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    archives = sorted(downloads.glob("*.tar.gz"))
    if done.returncode != 0 or not archives:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise SdistUnavailableError(
            f"pip download --no-binary openai-chatkit=={version} failed: {' | '.join(tail)}"
        )
    with tarfile.open(archives[0]) as archive:
        archive.extractall(into, filter="data")
    root = into / f"openai_chatkit-{version}"
    missing = [suite for suite in SUITES if not (root / "tests" / suite).is_file()]
    if missing:
        raise RuntimeError(f"the openai-chatkit {version} sdist has no tests/{missing}")
    for source, target in SLOT_FILES.items():
        destination = root / "tests" / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SLOT / source, destination)
    (root / "tests" / "helpers" / "__init__.py").touch()
    return root


@dataclass(frozen=True)
class Outcome:
    """One SDK test's result: ``passed``, ``failed``, ``error`` or ``skipped``."""

    name: str
    status: str
    message: str


def run_suite(
    root: Path, suite: str, env: dict[str, str], report: Path, log: Path
) -> dict[str, Outcome]:
    """Run ``tests/<suite>`` of the sdist at ``root``; outcomes by test name (Class::test)."""
    with log.open("w") as out:
        subprocess.run(
            [
                sys.executable, "-m", "pytest", f"tests/{suite}", "-p", "no:cacheprovider",
                "-o", "timeout=120", "-q", f"--junitxml={report}",
            ],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=1200,
            check=False,
        )  # fmt: skip
    if not report.is_file():
        raise RuntimeError(f"the SDK's {suite} wrote no report; its output:\n{log.read_text()}")
    return read_junit(report)


def read_junit(report: Path) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        classname = case.get("classname", "").rpartition(".")[2]
        name = case.get("name", "")
        key = f"{classname}::{name}" if classname and classname[0].isupper() else name
        status, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            found = case.find(kind)
            if found is not None:
                status = "failed" if kind == "failure" else kind
                message = f"{found.get('message', '')}\n{found.text or ''}"
                break
        outcomes[key] = Outcome(key, status, message)
    return outcomes


def problems(outcomes: dict[str, Outcome], known: list[KnownDifference]) -> list[str]:
    """What is wrong with a suite's outcomes: any test that did not pass and is not a known
    difference, and any known difference that no longer fails exactly as documented."""
    expected = {difference.test: difference for difference in known}
    found = [
        f"{name}: {outcome.status}: {outcome.message[:1500]}"
        for name, outcome in outcomes.items()
        if outcome.status != "passed" and name not in expected
    ]
    for name, difference in expected.items():
        outcome = outcomes.get(name)
        if outcome is None:
            found.append(f"known difference {name}: no such test any more")
        elif outcome.status != "failed":
            found.append(f"known difference {name}: {outcome.status}, not failed")
        elif not re.search(difference.failure, outcome.message):
            found.append(f"known difference {name}: fails otherwise: {outcome.message[:1500]}")
    return found
