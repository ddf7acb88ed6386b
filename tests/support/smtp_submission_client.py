"""A raw SMTP client over a socket, for what well-behaved clients never send.

It writes bytes exactly as given and reads whole replies (the last line of a multi-line reply
has a space after the code), so tests can send junk, huge lines or half a message and then
see precisely what the server answered.
"""

from __future__ import annotations

import base64
import re
import socket
import ssl

_FINAL_LINE = re.compile(rb"^\d{3} .*\r\n", re.MULTILINE)


class RawClient:
    def __init__(self, port: int, *, timeout: float = 10.0, tls: ssl.SSLContext | None = None):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock: socket.socket = tls.wrap_socket(raw) if tls is not None else raw
        self._buffer = b""
        self.banner = self.reply()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> bytes:
        """The next whole reply, without its final CRLF; b"" when the server closed."""
        while True:
            final = _FINAL_LINE.search(self._buffer)
            if final is not None:
                reply, self._buffer = self._buffer[: final.end()], self._buffer[final.end() :]
                return reply.removesuffix(b"\r\n")
            chunk = self.sock.recv(65536)
            if not chunk:
                return b""
            self._buffer += chunk

    def command(self, line: bytes) -> bytes:
        self.send(line + b"\r\n")
        return self.reply()

    def starttls(self, context: ssl.SSLContext) -> bytes:
        answer = self.command(b"STARTTLS")
        if answer.startswith(b"220"):
            self.sock = context.wrap_socket(self.sock)
        return answer

    def auth_plain(self, user: str, password: str) -> bytes:
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return self.command(f"AUTH PLAIN {token}".encode())

    def closed_by_server(self) -> bool:
        """Read (and drop) whatever else comes; True once the server closes the connection,
        False if it stays open for the socket's timeout."""
        try:
            while self.sock.recv(65536):
                pass
        except TimeoutError:
            return False
        except (ConnectionResetError, ssl.SSLError):
            pass
        return True

    def close(self) -> None:
        self.sock.close()
