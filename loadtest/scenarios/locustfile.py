"""ChatKit load scenarios: five kinds of users speaking the real ChatKit protocol.

    cd loadtest/scenarios
    locust -f locustfile.py --config locust.conf --host https://staging.example.com
    locust -f locustfile.py,shapes.py ...                   # step the users up (find the knee)
    python locustfile.py --host http://127.0.0.1:8000       # one user, for debugging

Users (weight, tag): new conversation (4, new), returning user (3, returning), long-thread
reader (1, long), hot thread (2, hot), churn (1, churn). Pick with ``--tags``/
``--exclude-tags`` or by class name. Settings: :mod:`.settings`.
"""

# isort: skip_file
# Locust first: its import monkey-patches the standard library for gevent.
from locust import FastHttpUser, events, tag, task
from locust.runners import WorkerRunner

import logging
import random
import string
from typing import Any

from chatkit_pg.loadtest.scenarios.acks import AckLog
from chatkit_pg.loadtest.scenarios.client import ChatKitClient, RequestFailed
from chatkit_pg.loadtest.scenarios.seed_http import ensure_seeded, find_threads
from chatkit_pg.loadtest.scenarios.settings import ScenarioSettings, add_arguments

logger = logging.getLogger("loadtest")
_ACKS: AckLog | None = None


@events.init_command_line_parser.add_listener
def _options(parser: Any, **_: Any) -> None:
    add_arguments(parser)


def settings_of(environment: Any) -> ScenarioSettings:
    """The scenario settings of this environment (parsed once, then cached on it)."""
    cached = getattr(environment, "chatkit_settings", None)
    if cached is None:
        cached = ScenarioSettings.from_options(environment.parsed_options)
        environment.chatkit_settings = cached
    return cached


def ack_log(environment: Any) -> AckLog:
    """This process's acknowledgement log (shared by its users)."""
    global _ACKS
    if _ACKS is None:
        _ACKS = AckLog(settings_of(environment).ack_dir)
    return _ACKS


@events.init.add_listener
def _configure(environment: Any, **_: Any) -> None:
    settings = settings_of(environment)
    # FastHttpUser reads these class attributes when each user is created.
    ChatKitUser.insecure = not settings.tls_verify
    ChatKitUser.network_timeout = settings.request_timeout
    ChatKitUser.connection_timeout = settings.request_timeout


@events.test_start.add_listener
def _seed(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or not environment.host:
        return  # the master (or the only process) seeds; workers find the threads by title
    found = ensure_seeded(environment.host, settings_of(environment), ack_log(environment))
    logger.info("seeded: %s", {k: len(v) for k, v in found.items()})


@events.quit.add_listener
def _close(**_: Any) -> None:
    if _ACKS is not None:
        _ACKS.close()


def message(settings: ScenarioSettings) -> str:
    """A user message of random length within the configured sizes."""
    size = random.randint(settings.message_min_chars, settings.message_max_chars)
    words = [
        "".join(random.choices(string.ascii_lowercase, k=random.randint(2, 9)))
        for _ in range(size // 4 + 1)
    ]
    return " ".join(words)[:size].strip() or "hi"


class ChatKitUser(FastHttpUser):
    """Base: one identity, its ChatKit client, think time from the settings."""

    abstract = True
    identity: str = ""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.settings = settings_of(environment)
        self.chatkit = ChatKitClient.for_user(
            self, self.settings, self.pick_identity(), ack_log(environment)
        )

    def pick_identity(self) -> str:
        return f"{self.settings.user_prefix}-user-{random.randrange(self.settings.user_pool)}"

    def wait_time(self) -> float:
        return random.uniform(self.settings.think_min, self.settings.think_max)

    def page_back(self, thread_id: str, max_pages: int) -> int:
        """Page ``items.list`` from the newest item back; return the items seen."""
        after, seen = None, 0
        for _ in range(max_pages):
            page = self.chatkit.list_items(thread_id, self.settings.page_size, after)
            seen += len(page.get("data", []))
            if not page.get("has_more"):
                break
            after = page.get("after")
        return seen

    def find_threads(self, title: str, want: int) -> list[str]:
        """Threads of this identity titled ``title`` (seeded up front), retried briefly."""
        for _ in range(10):
            try:
                found = find_threads(self.chatkit, title)
            except RequestFailed:
                found = []
            if len(found) >= min(want, 1):
                return found
            self.wait()
        return []


@tag("new")
class NewConversationUser(ChatKitUser):
    """Starts a thread with a first message, then adds a few more messages."""

    weight = 4

    @task
    def conversation(self) -> None:
        try:
            thread_id = self.chatkit.create_thread(message(self.settings)).thread_id
            assert thread_id is not None
            for _ in range(random.randint(1, 3)):
                self.wait()
                self.chatkit.add_message(thread_id, message(self.settings))
        except RequestFailed:
            pass  # recorded in the statistics; start over with a new thread


@tag("returning")
class ReturningUser(ChatKitUser):
    """Lists threads, opens one, pages back through its history, sometimes replies."""

    weight = 3

    @task
    def revisit(self) -> None:
        try:
            threads = self.chatkit.list_threads(limit=self.settings.page_size).get("data", [])
            if not threads:
                self.chatkit.create_thread(message(self.settings))
                return
            thread_id = random.choice(threads)["id"]
            self.page_back(thread_id, max_pages=5)
            if random.random() < 0.5:
                self.chatkit.add_message(thread_id, message(self.settings))
        except RequestFailed:
            pass


@tag("long")
class LongThreadReader(ChatKitUser):
    """Pages deep into threads of thousands of items (seeded before the test)."""

    weight = 1

    def pick_identity(self) -> str:
        return self.settings.long_reader

    def on_start(self) -> None:
        self.threads = self.find_threads(self.settings.long_title, self.settings.seed_threads)
        if not self.threads:
            logger.warning("no seeded long threads titled %s", self.settings.long_title)

    @task
    def read_history(self) -> None:
        if not self.threads:
            self.wait()
            return
        pages = self.settings.seed_thread_length // self.settings.page_size + 1
        try:
            self.page_back(random.choice(self.threads), max_pages=pages)
        except RequestFailed:
            pass


@tag("hot")
class HotThreadUser(ChatKitUser):
    """Many users posting to the same few threads at once (the HTTP-level race)."""

    weight = 2

    def pick_identity(self) -> str:
        return self.settings.hot_user

    def on_start(self) -> None:
        self.threads: list[str] = []
        for index in range(self.settings.hot_threads):
            self.threads += self.find_threads(self.settings.hot_title(index), 1)[:1]

    @task
    def post(self) -> None:
        if not self.threads:
            self.wait()
            return
        try:
            self.chatkit.add_message(random.choice(self.threads), message(self.settings))
        except RequestFailed:
            pass


@tag("churn")
class ChurnUser(ChatKitUser):
    """Creates a thread, renames it, reads it and deletes it."""

    weight = 1

    def pick_identity(self) -> str:
        return f"{self.settings.user_prefix}-churn-{random.getrandbits(48):012x}"

    @task
    def churn(self) -> None:
        try:
            thread_id = self.chatkit.create_thread(message(self.settings)).thread_id
            assert thread_id is not None
            self.chatkit.update_thread(thread_id, f"renamed {random.randint(0, 999)}")
            self.chatkit.list_items(thread_id, self.settings.page_size)
            self.chatkit.delete_thread(thread_id)
        except RequestFailed:
            pass


if __name__ == "__main__":
    from locust import run_single_user

    run_single_user(NewConversationUser)
