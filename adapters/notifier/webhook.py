"""POSTing a notification to the webhook its topic maps to in ``[topics]``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp
import msgspec

from sendtrail.adapters.clock import Clock
from sendtrail.adapters.config import TopicSettings

from .envelope import sns_envelope
from .outbox import OutboxRow
from .signing import webhook_headers


class Outcome(msgspec.Struct, frozen=True):
    delivered: bool
    detail: str  # "HTTP 200", or what went wrong
    permanent: bool = False  # retrying cannot help (no webhook for the topic): park now


class WebhookSender:
    def __init__(
        self,
        topics: Mapping[str, TopicSettings],
        session: aiohttp.ClientSession,
        *,
        timeout: float,
        sns_base_url: str,
        clock: Clock,
    ) -> None:
        self._topics = topics
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._base_url = sns_base_url.rstrip("/")
        self._clock = clock

    def request(self, row: OutboxRow, topic: TopicSettings) -> tuple[bytes, dict[str, str]]:
        if topic.format == "raw":
            body, headers = row.payload, {"Content-Type": "application/json"}
        else:
            body, headers = sns_envelope(
                row, url=topic.url, secret=topic.secret, base_url=self._base_url
            )
        # The timestamp of this attempt: receivers refuse old ones, so replays fail.
        timestamp = int(self._clock.now().timestamp())
        headers.update(webhook_headers(row.notification_id, timestamp, body, topic.secret))
        headers["User-Agent"] = "sendtrail-notifier"
        return body, headers

    async def send(self, row: OutboxRow) -> Outcome:
        topic = self._topics.get(row.target)
        if topic is None:
            return Outcome(False, f"no webhook for topic {row.target} in [topics]", True)
        body, headers = self.request(row, topic)
        try:
            async with self._session.post(
                topic.url,
                data=body,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                await response.read()
                status = response.status
        except TimeoutError:
            return Outcome(False, f"timed out after {self._timeout.total:g}s")
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as error:
            return Outcome(False, f"{type(error).__name__}: {error}".strip())
        if 200 <= status < 300:
            return Outcome(True, f"HTTP {status}")
        return Outcome(False, f"HTTP {status}")
