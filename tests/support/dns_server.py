"""A small authoritative DNS server on loopback, answering from a dict (for delivery tests).

Real UDP, real DNS messages (dnspython builds and parses them): the resolver under test talks
to it exactly as it would to a nameserver. Names not in the zone are NXDOMAIN; names in
``servfail`` answer SERVFAIL; names in ``silent`` get no answer at all (a timeout).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable, Mapping

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Zone = Mapping[str, Mapping[str, Iterable[str]]]  # name -> rdtype -> values in zone-file text


class LoopbackDnsServer:
    def __init__(
        self,
        zone: Zone,
        *,
        host: str = "127.0.0.1",
        ttl: int = 300,
        servfail: Iterable[str] = (),
        silent: Iterable[str] = (),
    ) -> None:
        self.zone = {_key(name): dict(types) for name, types in zone.items()}
        self.ttl = ttl
        self.servfail = {_key(name) for name in servfail}
        self.silent = {_key(name) for name in silent}
        self.queries: list[tuple[str, str]] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((host, 0))
        self._socket.settimeout(0.1)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="test-dns", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._socket.getsockname()
        return f"{host}:{port}"

    def start(self) -> LoopbackDnsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
        self._socket.close()

    def __enter__(self) -> LoopbackDnsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, name: str, rdtype: str) -> int:
        return self.queries.count((_key(name), rdtype))

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                wire, client = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            answer = self._answer(dns.message.from_wire(wire))
            if answer is not None:
                self._socket.sendto(answer.to_wire(), client)

    def _answer(self, query: dns.message.Message) -> dns.message.Message | None:
        question = query.question[0]
        name = _key(question.name.to_text())
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        if name in self.silent:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        types = self.zone.get(name)
        if types is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(self._soa())
            return response
        values = list(types.get(rdtype, ()))
        if values:
            response.answer.append(
                dns.rrset.from_text_list(question.name, self.ttl, "IN", rdtype, values)
            )
        else:
            response.authority.append(self._soa())  # NOERROR, no data (RFC 2308)
        return response

    def _soa(self) -> dns.rrset.RRset:
        return dns.rrset.from_text(
            "test.", self.ttl, "IN", "SOA", f"ns.test. admin.test. 1 60 60 60 {self.ttl}"
        )


def _key(name: str) -> str:
    return name.lower().rstrip(".")
