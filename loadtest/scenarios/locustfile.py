"""ChatKit load scenarios: five kinds of users speaking the real ChatKit protocol.

    cd loadtest/scenarios
    locust -f locustfile.py --config locust.conf --host https://staging.example.com
    locust -f locustfile.py,shapes.py ...                   # step the users up (find the knee)
    python locustfile.py --host http://127.0.0.1:8000       # one user, for debugging

Users (weight, tag): new conversation (4, new), returning user (3, returning), long-thread
reader (1, long), hot thread (2, hot), churn (1, churn). Pick with ``--tags``/
``--exclude-tags`` (classes left without tasks are dropped) or by class name. Settings:
:mod:`.settings`. The cancelling user (1, cancel: hangs up mid-stream, then reads the thread
back) runs only when ``--tags`` names ``cancel``.

Open loop (tag ``open-loop``, only with ``--arrival-rate`` > 0): one user per generator
starts new conversations on an arrival clock (:mod:`.arrivals`) whatever the server's pace,
at most ``--arrival-cap`` at once; an arrival beyond the cap is refused and counted, never
queued (``arrivals-*.jsonl``). ``--warmup``: requests that start in the first seconds are
recorded as warm-up and kept out of every statistic (:mod:`.phases`).

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
from locust.stats import CSV_STATS_INTERVAL_SEC

import logging
import random
import string
import sys
import time
from collections.abc import Callable
from typing import Any

import gevent
from gevent.pool import Pool

from chatkit_pg.harness.vocabulary import (
    CANCEL_TAG,
    SSE_TYPE,
    STREAM_PERCENTILES,
    STREAMING_REQUESTS,
    TIMING_PREFIXES,
    TOKENS_PREFIX,
)
from chatkit_pg.loadtest.scenarios.acks import AckLog, ArrivalLog, RecordLog
from chatkit_pg.loadtest.scenarios.arrivals import ArrivalClock
from chatkit_pg.loadtest.scenarios.client import ChatKitClient, RequestFailed
from chatkit_pg.loadtest.scenarios.phases import PhaseGate
from chatkit_pg.loadtest.scenarios.seed_http import ensure_seeded, find_threads, preflight
from chatkit_pg.loadtest.scenarios.settings import ScenarioSettings, add_arguments

logger = logging.getLogger("loadtest")
_ACKS: AckLog | None = None
_RECORDS: RecordLog | None = None
_ARRIVALS: ArrivalLog | None = None
_GATE: PhaseGate | None = None
# Locust's CSV writer rewrites the stats files every CSV_STATS_INTERVAL_SEC and is not
# flushed at exit, so the requests of the last second (users finishing during the stop)
# were missing from them; a master or lone process writing CSVs waits for one more write.
_FLUSH_CSV_AT_QUIT = False
OPEN_LOOP_TAG = "open-loop"


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


def phase_gate(environment: Any) -> PhaseGate:
    """This process's warm-up gate in front of Locust's request event."""
    global _GATE
    if _GATE is None:
        _GATE = PhaseGate(environment.events.request, settings_of(environment).warmup)
    return _GATE


def record_log(environment: Any) -> RecordLog:
    """This process's request records (shared by its users), stamped with their phase."""
    global _RECORDS
    if _RECORDS is None:
        directory = settings_of(environment).records_dir
        _RECORDS = RecordLog(directory, phase_gate(environment).phase_at)
    return _RECORDS


def arrival_log(environment: Any) -> ArrivalLog:
    """This process's open-loop arrivals (next to its request records)."""
    global _ARRIVALS
    if _ARRIVALS is None:
        _ARRIVALS = ArrivalLog(settings_of(environment).records_dir)
    return _ARRIVALS


def _class_tags(user_class: Any) -> list[set[str]]:
    return [set(getattr(t, "locust_tag_set", ())) for t in user_class.tasks]


def keep_classes_with_tasks(environment: Any) -> list[str]:
    """Drop the user classes ``--tags``/``--exclude-tags`` leave without a task (Locust
    would spawn them and fail with "No tasks defined"), the open-loop user unless
    ``--arrival-rate`` is set and the cancelling user unless ``--tags`` names ``cancel``;
    the names of those left."""
    options = environment.parsed_options
    tags = set(options.tags) if getattr(options, "tags", None) else None
    exclude = set(options.exclude_tags) if getattr(options, "exclude_tags", None) else set()
    if not settings_of(environment).arrival_rate:
        exclude |= {OPEN_LOOP_TAG}
    if tags is None or CANCEL_TAG not in tags:
        exclude |= {CANCEL_TAG}  # hanging up is asked for, never part of the default mix

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
    global _FLUSH_CSV_AT_QUIT
    writes_csv = bool(getattr(environment.parsed_options, "csv_prefix", None))
    _FLUSH_CSV_AT_QUIT = writes_csv and not isinstance(environment.runner, WorkerRunner)
    running = keep_classes_with_tasks(environment)
    if not running:
        hint = " (the open-loop user runs only with --arrival-rate > 0)"
        _fatal(f"no user class has a task left after --tags/--exclude-tags{hint}", 2)
    # Locust's dispatcher reads these class attributes: one open-loop user per generator,
    # each with an HTTP pool as large as its share of the cap.
    OpenLoopUser.fixed_count = settings.arrival_generators
    OpenLoopUser.concurrency = settings.arrivals_of_one_generator()[1]
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


@events.test_start.add_listener
def _begin_warmup(environment: Any, **_: Any) -> None:
    phase_gate(environment).begin()


@events.quit.add_listener
def _close(**_: Any) -> None:
    if _FLUSH_CSV_AT_QUIT:
        gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.25)  # the users have stopped: final numbers
    for log in (_ACKS, _RECORDS, _ARRIVALS):
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


def converse(chatkit: ChatKitClient, settings: ScenarioSettings, pause: Callable[[], Any]) -> None:
    """One conversation: a thread with a first message, then one to three more messages,
    ``pause`` between them. A failed request ends it (it is already in the statistics)."""
    try:
        thread_id = chatkit.create_thread(message(settings)).thread_id
        assert thread_id is not None
        for _ in range(random.randint(1, 3)):
            pause()
            chatkit.add_message(thread_id, message(settings))
    except RequestFailed:
        pass


class ChatKitUser(FastHttpUser):
    """Base: one identity, its ChatKit client, think time from the settings."""

    abstract = True
    identity: str = ""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.settings = settings_of(environment)
        self.gate = phase_gate(environment)
        self.client.request_event = self.gate  # warm-up requests stay out of the stats
        self.chatkit = self.client_as(self.pick_identity())

    def client_as(self, identity: str) -> ChatKitClient:
        """A ChatKit client of ``identity`` on this user's HTTP session."""
        environment = self.environment
        return ChatKitClient(
            self.client, self.gate, self.settings, identity, ack_log(environment),
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
        converse(self.chatkit, self.settings, self.wait)


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


@tag(OPEN_LOOP_TAG)
class OpenLoopUser(ChatKitUser):
    """Starts new conversations on the arrival clock, each on a greenlet of its own as a
    random identity, sharing this user's HTTP pool; at most its share of the cap at once.

    The clock sets the pace, not the server: between arrivals this user waits in Locust's
    own wait (so a stop ends it at once); a full pool refuses the arrival (counted); an
    arrival the generator was too late for is skipped (counted), never fired late.
    """

    fixed_count = 1  # set per run to --arrival-generators (init)
    weight = 0

    def on_start(self) -> None:
        rate, cap = self.settings.arrivals_of_one_generator()
        self.clock = ArrivalClock(rate, self.settings.arrival_burstiness)
        self.conversations = Pool(cap)
        self.arrivals = arrival_log(self.environment)
        now = time.time()
        self.due = self.clock.start(now)
        self.begun = False
        self.arrivals.write(
            {"event": "start", "t": now, "rate_per_s": rate, "cap": cap,
             "burstiness": self.settings.arrival_burstiness}
        )  # fmt: skip

    def wait_time(self) -> float:
        return max(0.0, self.due - time.time())

    @task
    def arrive(self) -> None:
        if not self.begun:  # Locust runs a task before its first wait: that wait is the gap
            self.begun = True
            return
        now = time.time()
        started = not self.conversations.full()
        if started:
            self.conversations.spawn(self.conversation)
        self.arrivals.write(
            {"event": "arrival", "t": now, "outcome": "started" if started else "refused",
             "phase": self.gate.phase_at(now)}
        )  # fmt: skip
        skipped = self.clock.skipped
        self.due = self.clock.next_after(time.time())
        if self.clock.skipped > skipped:
            self.arrivals.write(
                {"event": "skipped", "t": now, "n": self.clock.skipped - skipped,
                 "phase": self.gate.phase_at(now)}
            )  # fmt: skip

    def conversation(self) -> None:
        chatkit = self.client_as(random.choice(self.settings.identities()))
        think = self.settings.think_min, self.settings.think_max
        try:
            converse(chatkit, self.settings, lambda: gevent.sleep(random.uniform(*think)))
        except Exception:  # a greenlet of our own: Locust would not see it
            logger.exception("open-loop conversation failed outside a request")

    def on_stop(self) -> None:
        # Arrivals end now (the window's end); the conversations in flight get the stop
        # timeout to finish, as Locust's own users do, then are cut.
        self.arrivals.write({"event": "stop", "t": time.time(), "skipped": self.clock.skipped})
        self.conversations.join(timeout=self.environment.stop_timeout or 0)
        self.conversations.kill(block=True, timeout=5)


@tag(CANCEL_TAG)
class CancellingUser(ChatKitUser):
    """Starts a thread, hangs up on one to three replies mid-stream and reads the thread
    back each time (:meth:`ChatKitClient.cancel_message`), then has one whole turn on it."""

    weight = 1

    @task
    def cancel(self) -> None:
        try:
            first = self.chatkit.create_thread(message(self.settings))
            assert first.thread_id is not None
            for _ in range(random.randint(1, 3)):
                self.wait()
                self.chatkit.cancel_message(first.thread_id, message(self.settings), first)
            self.wait()
            self.chatkit.add_message(first.thread_id, message(self.settings))
        except RequestFailed:
            pass


if __name__ == "__main__":
    from locust import run_single_user

    run_single_user(NewConversationUser)
