"""Several ``sendtrail serve`` processes on one PostgreSQL schema, and an SMTP sink they deliver to.

- ``Cluster`` starts processes (an API process with its listeners, delivery workers without),
  each with its own TOML configuration and log files in a directory of its own, all on one
  ``[store] url``; waits until each is ready; stops them (SIGTERM, then SIGKILL) or kills one
  outright, as a crash would. It also reads the coordination tables (``sendtrail_workers``,
  ``delivery_claims``) and runs the audit commands against the same store.
- ``SmtpSink`` is a receiving SMTP server on loopback that accepts everything and counts what
  it accepted per (envelope sender, recipient). Since the envelope sender of every delivery is
  ``<message-id>@<feedback domain>``, those counts attribute each delivery to a message, and a
  count above one is a duplicate delivery. An optional delay before each final reply makes a
  run last long enough to kill a worker in the middle of it.
- ``presigned_sends`` and ``send_all`` accept messages through the API quickly: v2 SendEmail
  requests signed with SigV4 beforehand, then fired concurrently.

The sink is written here rather than reusing ``mx_server.LoopbackSmtpServer`` (aiosmtpd):
it must hold each final reply for a while without stalling the session's later commands, and
it must stay cheap, since it shares the machine's two cores with every process under test.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import psycopg
import uvloop
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CLI = [sys.executable, "-m", "sendtrail.adapters.cli"]
KEY, SECRET = "AKIDSENDTRAILCLUSTER", "sendtrail-cluster-secret"
REGION = "us-east-1"
FEEDBACK_DOMAIN = "feedback.cluster.test"
SENDER_DOMAIN = "example.com"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


# --- the configuration file ------------------------------------------------------------------


def toml_text(settings: dict[str, Any]) -> str:
    """``settings`` as TOML: scalars and lists of scalars first, then tables and arrays of
    tables (what the configuration needs; TOML strings are written as JSON strings, which TOML
    reads the same for the characters used here)."""
    lines: list[str] = []
    _toml_table(lines, [], settings)
    return "\n".join(lines) + "\n"


def _toml_table(lines: list[str], path: list[str], table: dict[str, Any]) -> None:
    nested = {k: v for k, v in table.items() if isinstance(v, dict)}
    arrays = {
        k: v for k, v in table.items() if isinstance(v, list) and v and isinstance(v[0], dict)
    }
    for key, value in table.items():
        if key not in nested and key not in arrays:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in nested.items():
        lines.append(f"[{'.'.join(_toml_key(part) for part in [*path, key])}]")
        _toml_table(lines, [*path, key], value)
    for key, items in arrays.items():
        for item in items:
            lines.append(f"[[{'.'.join(_toml_key(part) for part in [*path, key])}]]")
            _toml_table(lines, [*path, key], item)


def _toml_key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum()
    return key if bare else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


# --- the processes ---------------------------------------------------------------------------


@dataclass
class Node:
    """One ``sendtrail serve`` process of the cluster."""

    name: str
    role: str | None  # None: no --role flag (the process runs everything)
    directory: Path
    config: Path
    http_port: int
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def stderr_path(self) -> Path:
        return self.directory / "stderr.log"

    @property
    def stdout_path(self) -> Path:
        return self.directory / "stdout.log"

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: nothing runs after it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for a clean stop; SIGKILL after ``timeout``. The exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        return self.process.returncode

    def cpu_seconds(self) -> float:
        """User and system CPU time the process has used so far (Linux /proc)."""
        return process_cpu_seconds(self.pid)


def process_cpu_seconds(pid: int) -> float:
    # Fields 14 and 15 of /proc/PID/stat (utime, stime) in clock ticks; the command name
    # (field 2) may hold spaces, so split after its closing parenthesis.
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class StartFailed(RuntimeError):
    pass


class Cluster:
    """Processes sharing one store: ``start()`` each, ``wait_ready()``, ``stop()`` them all.

    ``settings`` is merged over a base configuration (the store, fresh loopback ports for
    every listener, credentials, a verified sender domain, quotas high enough for load);
    ``workers`` becomes the ``[workers]`` table, written only when given, since a sendtrail
    without the multi-worker settings refuses unknown keys.
    """

    def __init__(
        self,
        directory: Path,
        store_url: str | None,
        *,
        settings: dict[str, Any] | None = None,
        workers: dict[str, Any] | None = None,
    ) -> None:
        self.directory = directory
        self.store_url = store_url
        self.settings = settings or {}
        self.workers_table = workers
        self.nodes: list[Node] = []

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- starting and stopping ---------------------------------------------------------------

    def config_for(self, name: str) -> tuple[dict[str, Any], int]:
        """The configuration of the process ``name`` (merged over the base), and its HTTP
        port."""
        directory = self.directory / name
        http = free_port()
        base: dict[str, Any] = {
            "data_dir": str(directory / "data"),
            "region": REGION,
            "http": {"listen": f"127.0.0.1:{http}"},
            "smtp": {"listen": f"127.0.0.1:{free_port()}"},
            "feedback": {"domain": FEEDBACK_DOMAIN, "listen": f"127.0.0.1:{free_port()}"},
            "credentials": [{"access_key_id": KEY, "secret_access_key": SECRET}],
            "account": {"max_send_rate": 1_000_000.0, "max_24_hour_send": -1},
            "identities": {"verified": [SENDER_DOMAIN]},
            "delivery": {"ehlo_name": f"{name}.cluster.test"},
        }
        if self.store_url is not None:
            base["store"] = {"url": self.store_url}
        if self.workers_table is not None:
            base["workers"] = dict(self.workers_table)
        return merged(base, self.settings), http

    def start(self, role: str | None, name: str | None = None) -> Node:
        """Start one process (not waiting for it: see ``wait_ready``)."""
        name = name or f"{role or 'all'}-{len(self.nodes)}"
        directory = self.directory / name
        directory.mkdir(parents=True, exist_ok=True)
        settings, http = self.config_for(name)
        config = directory / "sendtrail.toml"
        config.write_text(toml_text(settings))
        command = [*CLI, "serve", "--config", str(config)]
        if role is not None:
            command += ["--role", role]
        # Output goes to files, not pipes: nobody reads a pipe while the test runs, and a
        # process blocked on a full pipe would look like a hung worker.
        with (
            (directory / "stdout.log").open("wb") as out,
            (directory / "stderr.log").open("wb") as err,
        ):
            process = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        node = Node(name, role, directory, config, http, process)
        self.nodes.append(node)
        return node

    def wait_ready(self, nodes: Iterable[Node] | None = None, timeout: float = 60.0) -> None:
        """Until every node answers: an HTTP node its ``/healthz``, a worker its row in
        ``sendtrail_workers`` (or, on a store without that table, its ``ready`` log line)."""
        pending = list(nodes if nodes is not None else self.nodes)
        deadline = time.monotonic() + timeout
        while pending:
            for node in list(pending):
                if not node.alive():
                    raise StartFailed(
                        f"{node.name} exited with {node.process.returncode}:\n{node.log_tail()}"
                    )
                if self._ready(node):
                    pending.remove(node)
            if not pending:
                return
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {n.name}\n{n.log_tail()}" for n in pending)
                raise StartFailed(f"not ready after {timeout} s:\n{tails}")
            time.sleep(0.1)

    def _ready(self, node: Node) -> bool:
        if node.role != "worker":
            return _healthy(node.url)
        if self.store_url is not None:
            registered = self.worker_ids().get(node.pid)
            if registered is not None:
                return True
        return any(_log_says(line, "ready") for line in node.log().splitlines())

    def stop(self, timeout: float = 30.0) -> dict[str, int]:
        """Stop every process still running, the last started first; their exit statuses."""
        statuses: dict[str, int] = {}
        for node in reversed(self.nodes):
            statuses[node.name] = node.stop(timeout)
        return statuses

    # --- the store's coordination tables -----------------------------------------------------

    def connect(self) -> psycopg.Connection[Any]:
        if self.store_url is None:
            raise RuntimeError("this cluster has no PostgreSQL store")
        return psycopg.connect(self.store_url, autocommit=True)

    def worker_ids(self) -> dict[int, str]:
        """pid -> worker_id of the rows in ``sendtrail_workers`` ({} without that table)."""
        try:
            with self.connect() as conn:
                rows = conn.execute("SELECT pid, worker_id FROM sendtrail_workers").fetchall()
        except psycopg.errors.UndefinedTable:
            return {}
        return {int(pid): str(worker_id) for pid, worker_id in rows}

    def claims(self) -> Counter[str]:
        """How many recipients each worker_id holds in ``delivery_claims`` now."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT worker_id, count(*) FROM delivery_claims GROUP BY worker_id"
            ).fetchall()
        return Counter({str(worker_id): int(count) for worker_id, count in rows})

    def claimed_by(self, worker_id: str) -> set[tuple[str, str]]:
        """The (message_id, address) pairs ``worker_id`` holds in ``delivery_claims`` now."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT message_id, address FROM delivery_claims WHERE worker_id = %s",
                (worker_id,),
            ).fetchall()
        return {(str(message_id), str(address)) for message_id, address in rows}

    # --- the audit commands ------------------------------------------------------------------

    def cli(self, *arguments: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """``sendtrail ARGUMENTS --config`` with the first node's configuration (every node
        names the same store)."""
        if not self.nodes:
            raise RuntimeError("no node started: no configuration to point the command at")
        return subprocess.run(
            [*CLI, *arguments, "--config", str(self.nodes[0].config)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


def _log_says(line: str, message: str) -> bool:
    try:
        entry = json.loads(line)
    except ValueError:
        return False
    return isinstance(entry, dict) and entry.get("message") == message


# --- the SMTP sink ---------------------------------------------------------------------------

_EHLO_REPLY = (
    b"250-sink.cluster.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    b"250-ENHANCEDSTATUSCODES\r\n250 SIZE 52428800\r\n"
)


class _SinkSession(asyncio.Protocol):
    """One SMTP session: commands are answered in order, pipelined ones in one write; at the
    end of a message the session holds its reply ``delay`` seconds, reading nothing further
    until it is sent (so later pipelined commands are answered after it, in order)."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.in_data = False
        self.held = False  # a final reply is being delayed
        self.sender: str | None = None
        self.recipients: list[str] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast("asyncio.Transport", transport)
        self.sink.connection_opened()
        transport.write(b"220 sink.cluster.test ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.held:
            self._process()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def _process(self) -> None:
        replies: list[bytes] = []
        while not self.held and self.transport is not None:
            if self.in_data:
                if not self._message_end(replies):
                    break
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                break
            line = bytes(self.buffer[:end])
            del self.buffer[: end + 2]
            reply = self._command(line)
            replies.append(reply)
            if reply.startswith(b"221"):
                self._write(replies)
                assert self.transport is not None
                self.transport.close()
                return
        self._write(replies)

    def _message_end(self, replies: list[bytes]) -> bool:
        """Consume the message if its terminating dot has arrived; False if not yet."""
        if self.buffer.startswith(b".\r\n"):
            size, cut = 0, 3
        else:
            end = self.buffer.find(b"\r\n.\r\n")
            if end < 0:
                return False
            size, cut = end + 2, end + 5
        del self.buffer[:cut]
        self.in_data = False
        sender, recipients = self.sender or "", self.recipients
        self.sender, self.recipients = None, []
        delay = self.sink.delay
        if delay <= 0:
            self.sink.accepted(sender, recipients, size)
            replies.append(b"250 2.0.0 Ok: queued\r\n")
            return True
        # Replies so far go out now; the final one after the delay, then reading resumes.
        self._write(replies)
        replies.clear()
        self.held = True
        asyncio.get_running_loop().call_later(delay, self._release, sender, recipients, size)
        return True

    def _release(self, sender: str, recipients: list[str], size: int) -> None:
        # Counted when the reply is decided, whether or not the client is still there to
        # read it: a real MTA has queued the message by then, so a client that died waiting
        # (a killed worker) and a retry by another make a duplicate, as they would for real.
        self.sink.accepted(sender, recipients, size)
        self.held = False
        self._write([b"250 2.0.0 Ok: queued\r\n"])
        self._process()

    def _command(self, line: bytes) -> bytes:
        verb = line[:4].upper()
        if verb == b"EHLO":
            return _EHLO_REPLY
        if verb == b"HELO":
            return b"250 sink.cluster.test\r\n"
        if verb == b"MAIL":
            self.sender = _address(line)
            self.recipients = []
            return b"250 2.1.0 Ok\r\n"
        if verb == b"RCPT":
            if self.sender is None:
                return b"503 5.5.1 MAIL first\r\n"
            self.recipients.append(_address(line))
            return b"250 2.1.5 Ok\r\n"
        if verb == b"DATA":
            if not self.recipients:
                return b"503 5.5.1 RCPT first\r\n"
            self.in_data = True
            return b"354 End data with <CR><LF>.<CR><LF>\r\n"
        if verb == b"RSET":
            self.sender, self.recipients = None, []
            return b"250 2.0.0 Ok\r\n"
        if verb == b"NOOP":
            return b"250 2.0.0 Ok\r\n"
        if verb == b"QUIT":
            return b"221 2.0.0 Bye\r\n"
        return b"502 5.5.2 Command not recognised\r\n"

    def _write(self, replies: list[bytes]) -> None:
        if replies and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(replies))


def _address(line: bytes) -> str:
    """The address in ``MAIL FROM:<a@b> SIZE=...`` or ``RCPT TO:<a@b>``."""
    start, end = line.find(b"<"), line.find(b">")
    if start < 0 or end < start:
        return line.partition(b":")[2].strip().decode("utf-8", "replace")
    return line[start + 1 : end].decode("utf-8", "replace")


@dataclass
class SinkCounts:
    """What the sink accepted: per (envelope sender, recipient), how many times."""

    deliveries: Counter[tuple[str, str]] = field(default_factory=Counter)
    messages: int = 0  # transactions accepted
    size: int = 0  # bytes of message data accepted
    connections: int = 0


class SmtpSink:
    """A loopback SMTP server that accepts every message, on its own thread and event loop.

    ``delay``: seconds each final reply (after the message's dot) is held; may be changed
    while it runs.
    """

    def __init__(self, host: str = "127.0.0.1", *, delay: float = 0.0) -> None:
        self.host = host
        self.port = 0
        self.delay = delay
        self._counts = SinkCounts()
        self._lock = threading.Lock()
        self._loop = uvloop.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="smtp-sink", daemon=True
        )
        self._server: asyncio.Server | None = None

    def start(self) -> SmtpSink:
        async def listen() -> asyncio.Server:
            return await self._loop.create_server(
                lambda: _SinkSession(self), self.host, self.port, backlog=1024
            )

        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(listen(), self._loop).result(timeout=10)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        if self._server is None:
            return

        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._server = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # Called on the sink's loop.
    def connection_opened(self) -> None:
        with self._lock:
            self._counts.connections += 1

    def accepted(self, sender: str, recipients: list[str], size: int) -> None:
        with self._lock:
            counts = self._counts
            for recipient in recipients:
                counts.deliveries[(sender, recipient)] += 1
            counts.messages += 1
            counts.size += size

    # Read from any thread.
    def snapshot(self) -> SinkCounts:
        with self._lock:
            counts = self._counts
            return SinkCounts(
                Counter(counts.deliveries), counts.messages, counts.size, counts.connections
            )

    def delivered(self) -> int:
        """Recipient deliveries accepted so far, duplicates included."""
        with self._lock:
            return sum(self._counts.deliveries.values())

    def distinct(self) -> int:
        """(sender, recipient) pairs accepted at least once."""
        with self._lock:
            return len(self._counts.deliveries)

    def duplicates(self) -> int:
        """Deliveries beyond the first of each (sender, recipient)."""
        with self._lock:
            return sum(count - 1 for count in self._counts.deliveries.values() if count > 1)


def message_id_of(envelope_sender: str) -> str:
    """The message id in a delivery's envelope sender, ``<message-id>@<feedback domain>``."""
    return envelope_sender.rpartition("@")[0]


# --- accepting messages through the API ------------------------------------------------------


@dataclass(frozen=True)
class Signed:
    url: str
    headers: dict[str, str]
    body: bytes


def presigned_sends(api_url: str, recipients: Iterable[str], *, text: str = "") -> list[Signed]:
    """A v2 SendEmail request per recipient, SigV4-signed now (as boto3 signs them), to be
    fired later: signing is the client's cost, kept out of the firing."""
    signer = SigV4Auth(Credentials(KEY, SECRET), "ses", REGION)
    target = f"{api_url}/v2/email/outbound-emails"
    body_text = text or "Hello,\n\nthis is a message from the cluster test.\n"
    requests: list[Signed] = []
    for number, recipient in enumerate(recipients):
        body = json.dumps(
            {
                "FromEmailAddress": f"news@{SENDER_DOMAIN}",
                "Destination": {"ToAddresses": [recipient]},
                "Content": {
                    "Simple": {
                        "Subject": {"Data": f"Message {number}"},
                        "Body": {"Text": {"Data": body_text}},
                    }
                },
            }
        ).encode()
        request = AWSRequest(
            method="POST", url=target, data=body, headers={"Content-Type": "application/json"}
        )
        signer.add_auth(request)
        headers = {name: str(value) for name, value in request.headers.items()}
        requests.append(Signed(target, headers, body))
    return requests


@dataclass
class SendResult:
    message_ids: list[str | None]  # per request, in the order given; None if refused
    statuses: Counter[int]
    failures: list[str]  # the first few refusals' bodies
    seconds: float

    def accepted(self) -> list[str]:
        return [message_id for message_id in self.message_ids if message_id is not None]


def send_all(requests: list[Signed], concurrency: int = 32) -> SendResult:
    """Fire the signed requests, ``concurrency`` at a time, on keep-alive connections."""
    return asyncio.run(_fire(requests, concurrency))


async def _fire(requests: list[Signed], concurrency: int) -> SendResult:
    import aiohttp

    pending: Iterator[tuple[int, Signed]] = iter(enumerate(requests))
    result = SendResult([None] * len(requests), Counter(), [], 0.0)
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def caller() -> None:
            for index, request in pending:
                async with session.post(
                    request.url, data=request.body, headers=request.headers
                ) as reply:
                    body = await reply.read()
                result.statuses[reply.status] += 1
                if reply.status == 200:
                    result.message_ids[index] = json.loads(body)["MessageId"]
                elif len(result.failures) < 5:
                    result.failures.append(f"{reply.status}: {body[:300]!r}")

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        result.seconds = time.perf_counter() - started
    return result


def wait_until(
    condition: Callable[[], bool], timeout: float, interval: float = 0.1, what: str = ""
) -> float:
    """Poll ``condition`` until it holds; the seconds it took. AssertionError on timeout."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(interval)
    return time.monotonic() - started
