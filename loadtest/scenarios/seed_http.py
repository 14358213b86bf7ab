"""Before the run, over the ChatKit API: the preflight request, and seeding.

Both run once, in Locust's ``init`` event on the master (or the only process), before any
user spawns and before ``--run-time`` starts counting; their requests go through a private
event hook, so Locust's statistics never count them.

* :func:`preflight`: one ``threads.list`` with the configured path and identity. A wrong
  host, path or identity comes back as a message naming the URL, the status and what to
  check.
* :func:`ensure_seeded`: the long threads (``--seed-threads`` x ``--seed-thread-length``
  items) and the hot threads, only for the user classes that run, only when ``--seed`` is on.
  It is an "ensure" that resumes: a long thread is titled ``<prefix>-long-<n>-seeding`` from
  its first message until it is complete, so a run that was interrupted leaves a thread the
  next run finds and continues instead of starting another. Progress goes to the log. Every
  write is logged to the ack log like any other, so the integrity check counts it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from locust.contrib.fasthttp import FastHttpSession
from locust.event import EventHook

from .acks import AckLog
from .client import ChatKitClient, RequestFailed
from .settings import ScenarioSettings

logger = logging.getLogger(__name__)

LIST_PAGE: Final = 100
MAX_LIST_PAGES: Final = 20  # find_threads looks at the newest 2,000 threads of an identity

HINTS: Final = (
    ("connection_error", "is the host up and reachable from here, and the port and scheme "
     "(http/https) right? (--host)"),
    ("timeout", "the host did not answer within --request-timeout; is it the right host?"),
    ("http_4xx: 401", "the identity: --auth-header/--auth-template/--auth-token/"
     "--auth-tokens-file/--header/--cookie"),
    ("http_4xx: 403", "the identity: is this user allowed? (--auth-* options, --header, "
     "--cookie)"),
    ("http_4xx: 404", "the path: is the ChatKit endpoint at --chatkit-path?"),
    ("http_4xx: 405", "the path: --chatkit-path must name the endpoint that takes POST"),
    ("http_4xx", "the request was refused: path, identity and headers (--chatkit-path, "
     "--auth-*, --header)"),
    ("http_5xx", "the server failed: see its logs"),
    ("invalid_event", "the answer is not ChatKit JSON: is --chatkit-path the ChatKit endpoint "
     "(not a web page or a proxy's login)?"),
)  # fmt: skip


def private_client(
    host: str, settings: ScenarioSettings, user: str, acks: AckLog | None = None
) -> ChatKitClient:
    """A client outside Locust's statistics, as ``user``."""
    hook = EventHook()
    session = FastHttpSession(
        host,
        request_event=hook,
        user=None,
        insecure=not settings.tls_verify,
        network_timeout=settings.request_timeout,
        connection_timeout=settings.request_timeout,
    )
    return ChatKitClient(session, hook, settings, user, acks or AckLog(None))


def preflight(host: str, settings: ScenarioSettings) -> str | None:
    """One ``threads.list`` as the first identity; None when it worked, else what to fix."""
    user = settings.identities()[0]
    client = private_client(host, settings, user)
    url = f"{host.rstrip('/')}{settings.chatkit_path}"
    try:
        page = client.list_threads(limit=1)
    except RequestFailed as exc:
        problem = str(exc)
    else:
        if isinstance(page.get("data"), list):
            return None
        problem = "invalid_event: the answer has no 'data' list (not a threads.list page)"
    hint = next((h for prefix, h in HINTS if problem.startswith(prefix)), "see the server")
    return (
        f"preflight failed: POST {url} (threads.list as {user!r}) -> {problem}. "
        f"Check {hint}. Nothing was run."
    )


def find_threads(client: ChatKitClient, title: str) -> list[str]:
    """Ids of the identity's threads titled ``title`` (its newest 2,000 threads)."""
    found: list[str] = []
    after = None
    for _ in range(MAX_LIST_PAGES):
        page = client.list_threads(limit=LIST_PAGE, after=after)
        found += [t["id"] for t in page.get("data", []) if t.get("title") == title]
        if not page.get("has_more") or not page.get("after"):
            break
        after = page["after"]
    return found


def count_items(client: ChatKitClient, thread_id: str) -> int:
    """How many items ``items.list`` shows in the thread."""
    total, after = 0, None
    while True:
        page = client.list_items(thread_id, LIST_PAGE, after, order="asc")
        total += len(page.get("data", []))
        if not page.get("has_more") or not page.get("after"):
            return total
        after = page["after"]


def ensure_seeded(
    host: str,
    settings: ScenarioSettings,
    acks: AckLog,
    *,
    long: bool = True,
    hot: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Make sure the long threads (``long``) and hot threads (``hot``) exist; return the ids
    found or made, and how many items this call added."""
    say = progress or logger.info
    result: dict[str, Any] = {"long_threads": [], "hot_threads": [], "items_added": 0}
    if long:
        reader = private_client(host, settings, settings.long_reader, acks)
        done = find_threads(reader, settings.long_title)
        partial = find_threads(reader, settings.seeding_title)
        while len(done) < settings.seed_threads:
            n = len(done) + 1
            resume = partial.pop(0) if partial else None
            thread_id, added = _seed_long_thread(reader, settings, resume, n, say)
            done.append(thread_id)
            result["items_added"] += added
        result["long_threads"] = done
    if hot:
        poster = private_client(host, settings, settings.hot_user, acks)
        for index in range(settings.hot_threads):
            title = settings.hot_title(index)
            found = find_threads(poster, title)
            if not found:
                check = poster.create_thread(f"hot thread {index}")
                assert check.thread_id is not None
                poster.update_thread(check.thread_id, title)
                result["items_added"] += len(check.done_items)
                found = [check.thread_id]
            result["hot_threads"].append(found[0])
    return result


def _seed_long_thread(
    client: ChatKitClient,
    settings: ScenarioSettings,
    resume: str | None,
    n: int,
    say: Callable[[str], None],
) -> tuple[str, int]:
    """Grow one long thread to ``seed_thread_length`` items (resuming ``resume``); return
    its id and the items added."""
    target = settings.seed_thread_length
    added = 0
    if resume is None:
        check = client.create_thread("seed message 0")
        assert check.thread_id is not None
        thread_id = check.thread_id
        client.update_thread(thread_id, settings.seeding_title)  # found again if interrupted
        have = added = len(check.done_items)
        say(f"seeding long thread {n}/{settings.seed_threads}: {have}/{target} items")
    else:
        thread_id = resume
        have = count_items(client, thread_id)
        say(f"resuming long thread {n}/{settings.seed_threads}: {have}/{target} items")
    step = max(1, target // 10)
    next_report = have + step
    message = have // 2
    while have < target:
        done = len(client.add_message(thread_id, f"seed message {message}").done_items)
        message += 1
        have += max(done, 1)
        added += done
        if have >= next_report or have >= target:
            say(f"seeding long thread {n}/{settings.seed_threads}: {have}/{target} items")
            next_report = have + step
    client.update_thread(thread_id, settings.long_title)
    return thread_id, added
