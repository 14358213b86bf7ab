"""ChatKit load scenarios: five kinds of users speaking the real ChatKit protocol.

    cd loadtest/scenarios
    locust -f locustfile.py --config locust.conf --host https://staging.example.com
    locust -f locustfile.py,shapes.py ...                   # step the users up (find the knee)
    python locustfile.py --host http://127.0.0.1:8000       # one user, for debugging

Users (weight, tag): new conversation (4, new), returning user (3, returning), long-thread
reader (1, long), hot thread (2, hot), churn (1, churn). Pick with ``--tags``/
``--exclude-tags`` (classes left without tasks are dropped) or by class name. Settings:
:mod:`.settings`.

Before any user spawns (Locust's ``init`` event, master or only process): the settings are
checked (a bad value: a message and exit 2), one preflight ``threads.list`` must succeed (else
a message naming URL, status and what to check, and exit 1), and with ``--seed true`` the long
and hot threads of the classes that run are seeded (resumably, outside the statistics). At
the end (``quitting``): a timing summary, and the exit status is 1 when no request was
recorded, the failure ratio exceeds ``--fail-ratio`` or a ``--slo-p95`` is broken.
"""

# isort: skip_file
# Locust first: its import monkey-patches the standard library for gevent.
from locust import FastHttpUser, events, tag, task
from locust.runners import WorkerRunner

import logging
import random
import string
import sys
from typing import Any

from chatkit_pg.harness.vocabulary import (
    SSE_TYPE,
    STREAM_PERCENTILES,
    STREAMING_REQUESTS,
    TIMING_PREFIXES,
    TOKENS_PREFIX,
)
from chatkit_pg.loadtest.scenarios.acks import AckLog, RecordLog
from chatkit_pg.loadtest.scenarios.client import ChatKitClient, RequestFailed
from chatkit_pg.loadtest.scenarios.seed_http import ensure_seeded, find_threads, preflight
from chatkit_pg.loadtest.scenarios.settings import ScenarioSettings, add_arguments

logger = logging.getLogger("loadtest")
_ACKS: AckLog | None = None
_RECORDS: RecordLog | None = None


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


def record_log(environment: Any) -> RecordLog:
    """This process's request records (shared by its users)."""
    global _RECORDS
    if _RECORDS is None:
        _RECORDS = RecordLog(settings_of(environment).records_dir)
    return _RECORDS


def _class_tags(user_class: Any) -> list[set[str]]:
    return [set(getattr(t, "locust_tag_set", ())) for t in user_class.tasks]


def keep_classes_with_tasks(environment: Any) -> list[str]:
    """Drop the user classes ``--tags``/``--exclude-tags`` leave without a task (Locust
    would spawn them and fail with "No tasks defined"); the names of those left."""
    options = environment.parsed_options
    tags = set(options.tags) if getattr(options, "tags", None) else None
    exclude = set(options.exclude_tags) if getattr(options, "exclude_tags", None) else set()

    def runs(task_tags: set[str]) -> bool:
        return (tags is None or bool(task_tags & tags)) and not task_tags & exclude

    kept = [c for c in environment.user_classes if any(runs(t) for t in _class_tags(c))]
    environment.user_classes[:] = kept
    return [c.__name__ for c in kept]


def _fatal(message: str, code: int) -> None:
    logger.error(message)
    sys.stderr.write(f"chatkit loadtest: {message}\n")
    sys.stderr.flush()
    sys.exit(code)


@events.init.add_listener
def _configure(environment: Any, **_: Any) -> None:
    try:
        settings = settings_of(environment)
    except ValueError as exc:
        _fatal(f"option error: {exc}", 2)
    # FastHttpUser reads these class attributes when each user is created.
    ChatKitUser.insecure = not settings.tls_verify
    ChatKitUser.network_timeout = settings.request_timeout
    ChatKitUser.connection_timeout = settings.request_timeout
    running = keep_classes_with_tasks(environment)
    if not running:
        _fatal("no user class has a task left after --tags/--exclude-tags", 2)
    if isinstance(environment.runner, WorkerRunner) or not environment.host:
        return  # the master (or the only process) checks and seeds; workers find by title
    problem = preflight(environment.host, settings)
    if problem:
        _fatal(problem, 1)
    logger.info("preflight ok: %s%s answers threads.list", environment.host, settings.chatkit_path)
    if settings.seed:
        long, hot = "LongThreadReader" in running, "HotThreadUser" in running
        try:
            found = ensure_seeded(
                environment.host, settings, ack_log(environment), long=long, hot=hot
            )
        except RequestFailed as exc:
            _fatal(f"seeding failed: {exc}", 1)
        logger.info(
            "seeded: %d long threads, %d hot threads, %d items added",
            len(found["long_threads"]),
            len(found["hot_threads"]),
            found["items_added"],
        )


def timing_summary(environment: Any) -> list[str]:
    """Lines of the console summary: per streamed request, the percentiles of each timing
    (ms) and of tokens/s."""
    stats = environment.stats
    head = " ".join(f"{'p' + str(p):>7}" for p in STREAM_PERCENTILES)
    lines = [f"{'timing (ms)':36} {'count':>6} {head}"]
    for kind in STREAMING_REQUESTS:
        for prefix in (*TIMING_PREFIXES, TOKENS_PREFIX):
            entry = stats.entries.get((f"{prefix}{kind}", SSE_TYPE))
            if entry is None or not entry.num_requests:
                continue
            cells = " ".join(
                f"{entry.get_response_time_percentile(p / 100):7.0f}" for p in STREAM_PERCENTILES
            )
            lines.append(f"{prefix + kind:36} {entry.num_requests:6d} {cells}")
    return lines


def exit_checks(environment: Any, settings: ScenarioSettings) -> list[str]:
    """What makes this run fail: no request, too many failures, a broken p95 SLO."""
    requests = failures = 0
    for (_, method), entry in environment.stats.entries.items():
        if method != SSE_TYPE:
            requests += entry.num_requests
            failures += entry.num_failures
    problems = []
    if requests == 0:
        problems.append("no request was recorded (did every user wait for seeded threads?)")
    elif failures / requests > settings.fail_ratio:
        problems.append(
            f"failure ratio {failures / requests:.2%} ({failures}/{requests}) exceeds "
            f"--fail-ratio {settings.fail_ratio:.2%}"
        )
    for name, limit in settings.slo_p95:
        entries = [e for (n, _), e in environment.stats.entries.items() if n == name]
        if not entries or not entries[0].num_requests:
            problems.append(f"--slo-p95 {name!r}: no such entry was recorded")
            continue
        p95 = entries[0].get_response_time_percentile(0.95)
        if p95 > limit:
            problems.append(f"--slo-p95 {name!r}: p95 {p95:.0f} ms exceeds {limit:g} ms")
    return problems


@events.quitting.add_listener
def _verdict(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    settings = getattr(environment, "chatkit_settings", None)
    if settings is None:
        return
    for line in timing_summary(environment):
        logger.info(line)
    problems = exit_checks(environment, settings)
    for problem in problems:
        logger.error("FAILED: %s", problem)
    if problems:
        environment.process_exit_code = 1
    elif not environment.runner.exceptions:
        environment.process_exit_code = 0  # failures within --fail-ratio are accepted


@events.quit.add_listener
def _close(**_: Any) -> None:
    for log in (_ACKS, _RECORDS):
        if log is not None:
            log.close()


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
            self, self.settings, self.pick_identity(), ack_log(environment),
            record_log(environment),
        )  # fmt: skip

    def pick_identity(self) -> str:
        return random.choice(self.settings.identities())

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
        for _ in range(2):  # seeding ran before any user; one retry for a slow listing
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

    warned = False

    def on_start(self) -> None:
        self.threads = self.find_threads(self.settings.long_title, self.settings.seed_threads)
        if not self.threads and not LongThreadReader.warned:
            LongThreadReader.warned = True
            logger.warning(
                "LongThreadReader: no seeded long thread titled %r for identity %r on %s; "
                "these users only wait. Seed with --seed true (small: --seed-threads "
                "%d --seed-thread-length %d), or leave them out with --exclude-tags long",
                self.settings.long_title,
                self.settings.long_reader,
                self.environment.host,
                self.settings.seed_threads,
                self.settings.seed_thread_length,
            )

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
        if not self.threads:
            # Not seeded: this user makes the first hot thread itself (measured traffic).
            try:
                thread_id = self.chatkit.create_thread(message(self.settings)).thread_id
                assert thread_id is not None
                self.chatkit.update_thread(thread_id, self.settings.hot_title(0))
                self.threads.append(thread_id)
            except RequestFailed:
                pass

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
        if self.settings.tokens:  # only the file's identities have tokens
            return random.choice(self.settings.identities())
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
