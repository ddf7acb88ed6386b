"""Where a recipient domain's mail goes: MX lookup, A/AAAA of the hosts, per-domain routes.

The lookups use dnspython's asynchronous resolver through the configured nameservers (the
system's resolver when none are configured); the decisions (preference order, implicit MX,
null MX, which failures are soft) are ``core.delivery.mx``'s. Answers are cached for their
TTL, and concurrent lookups of one name share a single query, so a burst of messages to one
domain costs one MX query, not one per message.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import random
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final, TypeVar, cast

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from sendtrail.core.delivery import mx
from sendtrail.core.delivery.mx import DeliveryPlan, Hop, MxLookup, PlanSource

# A negative answer without a usable SOA, and a failed lookup, are remembered this long: long
# enough that a burst of messages to a broken domain asks once, short enough to notice a fix.
NEGATIVE_TTL: Final = 60.0
FAILURE_TTL: Final = 5.0
MAX_TTL: Final = 3600.0
MAX_CACHE_ENTRIES: Final = 100_000

MxAnswer = tuple[MxLookup, tuple[tuple[int, str], ...]]
T = TypeVar("T")


def parse_nameserver(text: str) -> tuple[str, int]:
    """``"127.0.0.1:5353"``, ``"[::1]:53"`` or a bare address (port 53)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, "53"
    ipaddress.ip_address(host)  # nameservers are addresses: a name would need DNS to find DNS
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad nameserver port: {text!r}")
    return host, int(port)


def build_resolver(nameservers: Sequence[str], timeout: float) -> dns.asyncresolver.Resolver:
    """A resolver asking ``[dns] nameservers`` (the system's when empty)."""
    if nameservers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(*parse_nameserver(text)) for text in nameservers
        ]
    else:
        resolver = dns.asyncresolver.Resolver()  # /etc/resolv.conf
    resolver.lifetime = timeout
    resolver.timeout = min(timeout, 3.0)  # per query try; lifetime bounds the retries
    resolver.retry_servfail = False
    return resolver


@functools.lru_cache(maxsize=4096)
def ip_literal(host: str) -> str | None:
    """The address when ``host`` is an IP literal (``[1.2.3.4]`` as in a domain literal)."""
    candidate = host.strip("[]")
    candidate = candidate.removeprefix("IPv6:").removeprefix("ipv6:")
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


class DnsResolver:
    def __init__(
        self,
        nameservers: Sequence[str] = (),
        *,
        timeout: float = 10.0,
        routes: Mapping[str, str] | None = None,
        smtp_port: int = 25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolver = build_resolver(nameservers, timeout)
        # Keyed by the normalised domain: one dict lookup per plan, not a scan of the routes.
        self._routes = {_domain_key(domain): value for domain, value in (routes or {}).items()}
        for value in self._routes.values():
            mx.parse_route(value, smtp_port)  # a bad route fails here, not at the first send
        self._smtp_port = smtp_port
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, object]] = {}
        self._pending: dict[tuple[str, str], asyncio.Future[object]] = {}
        self.queries = 0  # DNS queries actually sent (for metrics)

    async def plan(self, domain: str) -> DeliveryPlan:
        """The hosts to try for ``domain``, or the outcome when there are none."""
        route = self._routes.get(_domain_key(domain))
        if route is not None:
            routed = mx.static_route(domain, {domain: route}, self._smtp_port)
            assert routed is not None
            return routed
        literal = ip_literal(domain) if domain.startswith("[") else None
        if literal is not None:  # user@[192.0.2.1]: RFC 5321 §4.1.3, no lookup
            hop = Hop(literal, self._smtp_port)
            return DeliveryPlan(domain=domain, source=PlanSource.IMPLICIT_MX, hops=(hop,))
        lookup, records = await self._cached(domain, "MX", self._query_mx)
        return mx.plan_from_mx(
            domain,
            lookup,
            records,
            smtp_port=self._smtp_port,
            seed=random.getrandbits(32),
        )

    async def addresses(self, host: str, *, system: bool = False) -> list[str]:
        """IPv4 then IPv6 addresses of ``host`` (empty when it has none or the lookup failed).

        ``system``: ask the operating system (hosts file included) instead of DNS; for the
        hosts of ``[delivery.routes]``, which are local configuration rather than MX targets.
        """
        literal = ip_literal(host)
        if literal is not None:
            return [literal]
        if system:
            return await self._system_addresses(host)
        v4, v6 = await asyncio.gather(
            self._cached(host, "A", self._query_addresses),
            self._cached(host, "AAAA", self._query_addresses),
        )
        return [*v4, *v6]

    # --- lookups --------------------------------------------------------------------------

    async def _cached(
        self, name: str, rdtype: str, query: Callable[[str, str], Awaitable[tuple[T, float]]]
    ) -> T:
        key = (_domain_key(name), rdtype)
        hit = self._cache.get(key)
        if hit is not None and hit[0] > self._clock():
            return cast(T, hit[1])
        pending = self._pending.get(key)
        if pending is not None:
            return cast(T, await asyncio.shield(pending))
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            value, ttl = await query(key[0], rdtype)
            self._remember(key, value, ttl)
            future.set_result(value)
            return value
        except asyncio.CancelledError:
            future.cancel()  # only on shutdown: whoever shares the query stops with us
            raise
        except Exception as error:
            future.set_exception(error)
            future.exception()  # marked retrieved: nobody may be waiting on it
            raise
        finally:
            del self._pending[key]

    def _remember(self, key: tuple[str, str], value: object, ttl: float) -> None:
        now = self._clock()
        if len(self._cache) >= MAX_CACHE_ENTRIES:  # forget what expired, else the oldest half
            self._cache = {k: hit for k, hit in self._cache.items() if hit[0] > now}
            if len(self._cache) >= MAX_CACHE_ENTRIES:
                self._cache = dict(list(self._cache.items())[MAX_CACHE_ENTRIES // 2 :])
        self._cache[key] = (now + min(ttl, MAX_TTL), value)

    async def _query_mx(self, domain: str, rdtype: str) -> tuple[MxAnswer, float]:
        try:
            answer = await self._resolve(domain, rdtype)
        except dns.resolver.NXDOMAIN:
            return (MxLookup.NXDOMAIN, ()), NEGATIVE_TTL
        except dns.exception.DNSException:  # SERVFAIL from every server, timeouts, bad replies
            return (MxLookup.FAILED, ()), FAILURE_TTL
        if answer.rrset is None:
            return (MxLookup.NO_MX, ()), _ttl(answer)
        records = tuple((int(rdata.preference), rdata.exchange.to_text()) for rdata in answer.rrset)
        return (MxLookup.FOUND, records), _ttl(answer)

    async def _query_addresses(self, host: str, rdtype: str) -> tuple[list[str], float]:
        try:
            answer = await self._resolve(host, rdtype)
        except dns.resolver.NXDOMAIN:
            return [], NEGATIVE_TTL
        except dns.exception.DNSException:
            return [], FAILURE_TTL
        if answer.rrset is None:
            return [], _ttl(answer)
        return [rdata.address for rdata in answer.rrset], _ttl(answer)

    async def _resolve(self, name: str, rdtype: str) -> dns.resolver.Answer:
        self.queries += 1
        return await self._resolver.resolve(
            dns.name.from_text(name),  # absolute: never a search-list suffix
            dns.rdatatype.from_text(rdtype),
            raise_on_no_answer=False,
        )

    async def _system_addresses(self, host: str) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError:
            return []
        ordered = sorted(infos, key=lambda info: info[0] != socket.AF_INET)
        return list(dict.fromkeys(str(info[4][0]) for info in ordered))


def _domain_key(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _ttl(answer: dns.resolver.Answer) -> float:
    # dnspython sets ``expiration`` from the smallest TTL in the answer, or from the SOA
    # minimum for a negative one (RFC 2308).
    return max(0.0, answer.expiration - time.time())
