"""``--verify``: the integrity check of a remote run, over the ChatKit API only.

After the run, every thread an acknowledged write went to (and that was not deleted) is read
again through ``items.list`` (oldest first, all pages) as the identity that wrote it. Each
acknowledged write's items -- its user message and what the reply consisted of, as the stream
named them -- must be there exactly once and in the order the stream named them. Writes whose
outcome the client never learned are not judged. Result: ``loadtest/verify.json``
(:attr:`RunFolder.VERIFY_FILE`) = ``{"conditions", "passed", "checks", "threads", "writes"}``.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any, Final

from chatkit_pg.harness.vocabulary import ITEMS_LIST
from chatkit_pg.loadtest.scenarios.acks import read_acks
from chatkit_pg.loadtest.scenarios.settings import ScenarioSettings

from .integrity import _check, fold

PAGE: Final = 100
MAX_PAGES: Final = 1000


def _post(host: str, settings: ScenarioSettings, user: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"{host.rstrip('/')}{settings.chatkit_path}",
        data=json.dumps(body).encode(),
        headers={**settings.auth_headers(user), "Content-Type": "application/json"},
        method="POST",
    )
    context = None if settings.tls_verify else ssl._create_unverified_context()
    with urllib.request.urlopen(request, timeout=settings.request_timeout, context=context) as r:
        return json.load(r)


def read_thread(host: str, settings: ScenarioSettings, user: str, thread_id: str) -> list[str]:
    """Ids of every item ``items.list`` shows in the thread, oldest first."""
    ids: list[str] = []
    after = None
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"thread_id": thread_id, "limit": PAGE, "order": "asc"}
        if after:
            params["after"] = after
        page = _post(host, settings, user, {"type": ITEMS_LIST, "params": params})
        ids += [item["id"] for item in page.get("data", [])]
        if not page.get("has_more") or not page.get("after"):
            break
        after = page["after"]
    return ids


def verify_over_http(host: str, settings: ScenarioSettings, ack_dir: Path) -> dict[str, Any]:
    """Re-read every acknowledged thread; the verdict and its checks."""
    requests = fold(list(read_acks(ack_dir)))
    writes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ack in requests.live:
        if ack.get("thread_id"):
            writes[ack["thread_id"]].append(ack)
    unreadable: list[str] = []
    missing: list[str] = []
    disorder: list[str] = []
    for thread_id, acks in sorted(writes.items()):
        try:
            stored = read_thread(host, settings, acks[0]["user"], thread_id)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            unreadable.append(f"{thread_id}: {type(exc).__name__}: {exc}")
            continue
        positions: dict[str, list[int]] = defaultdict(list)
        for n, item_id in enumerate(stored):
            positions[item_id].append(n)
        for ack in acks:
            ids = [item_id for item_id, _ in ack.get("items", [])]
            counts = {i: len(positions.get(i, [])) for i in ids}
            wrong = [f"{i} x{c}" for i, c in counts.items() if c != 1]
            if wrong:
                missing.append(f"{thread_id} ({ack['type']}): {', '.join(wrong)}")
                continue
            found = [positions[i][0] for i in ids]
            if found != sorted(found):
                disorder.append(f"{thread_id} ({ack['type']}): stored order {found}")
    checks = [
        _check("threads_readable", unreadable, f"{len(writes)} thread(s) read back"),
        _check(
            "acknowledged_items_once",
            missing,
            f"{len(requests.live)} acknowledged write(s): every item stored exactly once",
        ),
        _check("acknowledged_items_in_order", disorder, "each write's items in stream order"),
    ]
    return {
        "passed": all(c["passed"] for c in checks),
        "checks": checks,
        "threads": len(writes),
        "writes": len(requests.live),
        "unconfirmed": requests.unconfirmed_total,
    }
