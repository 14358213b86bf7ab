"""The Locust client against a ChatKit server written the way the SDK's docs show one.

The server (``tests/docs_server/app.py``) is not ours: FastAPI, the SDK's ``respond()``, an
in-memory store, identity in ``X-User-Id``, the endpoint at ``/api/chatkit``. Each reply shape
the SDK allows (chosen per request with ``X-Reply-Mode``, sent with ``--header``) must run
with 0 failures and the right timings; a wrong path, a wrong identity and an unreachable
host must stop the run before any user spawns, with a message; seeding must resume.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from chatkit_pg.harness.provision import free_port
from chatkit_pg.harness.vocabulary import CANCELLED_ADD_USER_MESSAGE
from chatkit_pg.loadtest.orchestration.run import LOCUST_CONF, LOCUSTFILE

pytestmark = pytest.mark.slow

PATH = "/api/chatkit"
IDENTITY = ("--auth-header", "X-User-Id", "--auth-template", "{user}")
FAST = ("--think-min", "0.05", "--think-max", "0.2")


def locust(
    host: str, out: Path, *args: str, seconds: int = 4
) -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, str]]]:
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--config", str(LOCUST_CONF),
        "--headless", "-u", "4", "-r", "4", "-t", f"{seconds}s", "--only-summary",
        "--host", host, "--csv", str(out / "locust"), *FAST, *args,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=90)
    stats_csv = out / "locust_stats.csv"
    stats = {}
    if stats_csv.exists():
        with stats_csv.open(newline="") as handle:
            stats = {r["Name"]: r for r in csv.DictReader(handle)}
    return done, stats


def p50(stats: dict[str, dict[str, str]], name: str) -> float:
    return float(stats[name]["50%"])


WITH_TEXT = {"single_done", "streamed", "workflow", "title_update"}


@pytest.mark.parametrize(
    "mode",
    ["single_done", "streamed", "widget_only", "widget_whole", "workflow", "client_tool",
     "title_update"],
)  # fmt: skip
def test_every_reply_shape_runs_clean(docs_url: str, tmp_path: Path, mode: str) -> None:
    delay = "40" if mode in ("streamed", "single_done") else "0"
    done, stats = locust(
        docs_url, tmp_path, "--chatkit-path", PATH, *IDENTITY,
        "--header", f"X-Reply-Mode: {mode}", "--header", f"X-Chunk-Delay-Ms: {delay}",
        "--exclude-tags", "long",
    )  # fmt: skip
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert int(stats["Aggregated"]["Failure Count"]) == 0, log[-3000:]
    for name in ("threads.create", "threads.add_user_message", "threads.list", "items.list"):
        assert int(stats[name]["Request Count"]) > 0, name
    assert CANCELLED_ADD_USER_MESSAGE not in stats  # hanging up runs only with --tags cancel
    ttft = "ttft threads.add_user_message"
    assert (ttft in stats) == (mode in WITH_TEXT), sorted(stats)
    if mode in ("streamed", "single_done"):
        # the first event is the echoed user message; the first token waits for the model
        assert p50(stats, "ttfe threads.add_user_message") < 30
        assert p50(stats, ttft) >= 35
        assert p50(stats, ttft) <= p50(stats, "stream threads.add_user_message")
    if mode == "streamed":
        assert p50(stats, "stream threads.add_user_message") >= 5 * 35
        assert 15 <= p50(stats, "tokens/s threads.add_user_message") <= 30
    streams_deltas = mode in ("streamed", "workflow")
    assert ("tokens/s threads.add_user_message" in stats) == streams_deltas


def test_a_server_that_mixes_users_streams_fails_as_cross_talk(
    docs_url: str, tmp_path: Path
) -> None:
    done, stats = locust(
        docs_url, tmp_path, "--chatkit-path", PATH, *IDENTITY, "--header", "X-Plant: swap",
        "--exclude-tags", "long",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    with (tmp_path / "locust_failures.csv").open(newline="") as handle:
        failures = list(csv.DictReader(handle))
    crossed = sum(int(f["Occurrences"]) for f in failures if "cross_talk:" in f["Error"])
    assert crossed > 0, failures
    streamed = sum(
        int(stats[name]["Request Count"]) for name in ("threads.create", "threads.add_user_message")
    )
    print(f"{crossed} of {streamed} streamed requests failed as cross_talk")


def test_reply_without_assistant_fails_only_when_required(docs_url: str, tmp_path: Path) -> None:
    done, _ = locust(
        docs_url, tmp_path, "--chatkit-path", PATH, *IDENTITY, "--tags", "new",
        "--header", "X-Reply-Mode: widget_only", "--require-assistant", "true", seconds=3,
    )  # fmt: skip
    assert done.returncode == 1
    with (tmp_path / "locust_failures.csv").open(newline="") as handle:
        errors = [r["Error"] for r in csv.DictReader(handle)]
    assert errors and all("no_reply" in e for e in errors)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--chatkit-path", "/chatkit", *IDENTITY), ["/chatkit", "404", "--chatkit-path"]),
        (("--chatkit-path", PATH), ["401", "identity", "--auth-header"]),
        (("--chatkit-path", PATH, "--header", "X-User-Id: {user}", "--auth-header", ""), None),
    ],
    ids=["wrong_path", "wrong_identity", "identity_by_header"],
)
def test_preflight_stops_a_wrong_target(
    docs_url: str, tmp_path: Path, args: tuple[str, ...], expected: list[str] | None
) -> None:
    done, stats = locust(docs_url, tmp_path, *args, "--tags", "new", seconds=2)
    err = done.stderr
    if expected is None:
        assert done.returncode == 0, err[-2000:]
        return
    assert done.returncode == 1
    message = next(line for line in err.splitlines() if "preflight failed" in line)
    for fragment in [docs_url, *expected]:
        assert fragment in message, message
    assert "Traceback" not in err
    assert int(stats.get("Aggregated", {}).get("Request Count", 0)) == 0


def test_unreachable_host_is_named(tmp_path: Path) -> None:
    host = f"http://127.0.0.1:{free_port()}"
    done, _ = locust(host, tmp_path, "--tags", "new", seconds=2)
    assert done.returncode == 1
    assert f"preflight failed: POST {host}/chatkit" in done.stderr
    assert "connection_error" in done.stderr and "--host" in done.stderr


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--auth-template", "Bearer static-secret-token"), None),  # static: allowed
        (("--auth-template", "Bearer {usr}"), "--auth-template"),
        (("--header", "no colon here-secret"), "--header"),
        (("--cookie", "sid"), "--cookie"),
        (("--auth-tokens-file", "/nonexistent/tokens"), "--auth-tokens-file"),
        (("--slo-p95", "ttft=abc"), "--slo-p95"),
    ],
)
def test_bad_option_is_a_message_not_a_traceback(
    tmp_path: Path, args: tuple[str, ...], option: str | None
) -> None:
    host = f"http://127.0.0.1:{free_port()}"  # nothing listens: options are checked first
    done, _ = locust(host, tmp_path, *args, seconds=1)
    assert "Traceback" not in done.stderr
    if option is None:
        assert "preflight failed" in done.stderr  # the options were fine
        assert "static-secret-token" not in done.stderr
        return
    assert done.returncode == 2
    assert f"option error: {option}" in done.stderr
    assert "secret" not in done.stderr


def test_tags_leave_no_class_without_tasks(docs_url: str, tmp_path: Path) -> None:
    done, _ = locust(
        docs_url, tmp_path, "--chatkit-path", PATH, *IDENTITY, "--tags", "new", "churn",
        seconds=3,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "No tasks defined" not in done.stderr
    assert '"NewConversationUser"' in done.stderr and "ReturningUser" not in done.stderr


def test_long_readers_without_seed_say_so(docs_url: str, tmp_path: Path) -> None:
    done, _ = locust(
        docs_url, tmp_path, "--chatkit-path", PATH, *IDENTITY, "--tags", "long",
        "--user-prefix", "noseed", seconds=2,
    )  # fmt: skip
    assert "no seeded long thread titled 'noseed-long-20'" in done.stderr
    assert "--seed true" in done.stderr


def test_no_request_recorded_exits_non_zero(docs_url: str, tmp_path: Path) -> None:
    done, _ = locust(docs_url, tmp_path, "--chatkit-path", PATH, *IDENTITY, "-u", "0", seconds=2)
    assert done.returncode == 1
    assert "no request was recorded" in done.stderr


def _post(url: str, user: str, body: dict) -> bytes:
    request = urllib.request.Request(
        f"{url}{PATH}",
        data=json.dumps(body).encode(),
        headers={"X-User-Id": user, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.read()


def _titles(url: str, user: str) -> list[str]:
    page = json.loads(_post(url, user, {"type": "threads.list", "params": {"limit": 100}}))
    return [t.get("title") for t in page["data"]]


def test_seeding_resumes_its_own_interrupted_thread(docs_url: str, tmp_path: Path) -> None:
    prefix, length = "resume", 12
    reader = f"{prefix}-longreader"
    # an interrupted earlier seed: one exchange, titled as "being seeded"
    first = _post(docs_url, reader, {"type": "threads.create", "params": {"input": {
        "content": [{"type": "input_text", "text": "seed message 0"}], "attachments": [],
        "inference_options": {}}}})  # fmt: skip
    thread_id = json.loads(first.split(b"\n")[0][len(b"data: ") :])["thread"]["id"]
    title = f"{prefix}-long-{length}"
    rename = {"thread_id": thread_id, "title": f"{title}-seeding"}
    _post(docs_url, reader, {"type": "threads.update", "params": rename})
    args = ("--chatkit-path", PATH, *IDENTITY, "--user-prefix", prefix, "--tags", "long",
            "--seed", "true", "--seed-thread-length", str(length))  # fmt: skip
    done, stats = locust(docs_url, tmp_path, *args, seconds=2)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"resuming long thread 1/1: 2/{length} items" in done.stderr
    assert _titles(docs_url, reader) == [title]  # finished, and no second thread
    # seeding is outside the statistics; the readers paged the seeded thread
    assert not any(n.startswith("threads.create") for n in stats)
    assert int(stats["items.list"]["Request Count"]) > 0
    again, _ = locust(docs_url, tmp_path / "again", *args, seconds=1)
    assert "0 items added" in again.stderr and _titles(docs_url, reader) == [title]


def test_chatkit_pg_loadtest_host_then_report(docs_url: str, tmp_path: Path) -> None:
    secret = "X-Api-Key: s3cr3t-header-value"
    command = [
        sys.executable, "-m", "chatkit_pg.cli", "loadtest", "--host", docs_url,
        "--chatkit-path", PATH, "--auth-header", "X-User-Id", "--auth-template", "{user}",
        "--header", secret, "--header", "X-Reply-Mode: streamed",
        "--users", "4", "--spawn-rate", "4", "--run-time", "4s", *FAST,
        "--seed", "--verify", "--results", str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = tmp_path / "loadtest"
    run = json.loads((out / "run.json").read_text())
    assert run["mode"] == "remote" and run["host"] == docs_url
    assert run["versions"]["locust"] and run["versions"]["openai-chatkit"]
    assert run["verify"]["passed"], run["verify"]
    history = (out / "locust_stats_history.csv").read_text()
    assert "ttft threads.add_user_message" in history  # full history
    report = subprocess.run(
        [sys.executable, "-m", "chatkit_pg.cli", "report", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert "skipped" not in report.stdout
    text = (tmp_path / "report.md").read_text()
    assert text.startswith(f"# Load test of {docs_url}")
    assert "first assistant token" in text and "strategy" not in text.lower()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"s3cr3t" not in path.read_bytes(), path
    assert "s3cr3t" not in done.stdout + done.stderr
