"""Address-list syntax as SES applies it, faithful to JavaMail's `InternetAddress`.

Every malformed-address text SES is seen to return ("Missing final '@domain'",
"Local address contains illegal character", "Illegal semicolon, not in group", ...) is
word for word an `AddressException` message of JavaMail's strict parser, so this module
follows that parser's rules and order (`parse` with strict=true, then `checkAddress` with
validation). The stdlib parser accepts and rejects different inputs and has no such texts,
which is why it is not used for the syntax itself.

Texts JavaMail has but SES has not been seen to return (e.g. "Domain ends with dot") come
from the same code path and are kept verbatim; they are UNCONFIRMED as SES output.
"""

from __future__ import annotations

import msgspec

# RFC 822 specials except '.', as JavaMail checks them in the local part.
_SPECIALS_NO_DOT = '()<>,;:\\"[]@'
_WHITESPACE = " \t\r\n"


class AddressSyntaxError(ValueError):
    """The input is not an address list; the argument is JavaMail's exact message."""


class RawAddress(msgspec.Struct, frozen=True):
    """One entry of a parsed list, before decoding the display name."""

    text: str  # the entry as written, trimmed: display name, comments and all
    addr: str  # the address proper (a whole `name: ...;` string for a group)
    personal: str | None  # display name, unquoted but still MIME-encoded
    route_addr: bool  # came from `<...>`, so a source route is allowed
    is_group: bool


def parse_list(text: str) -> list[RawAddress]:
    """Split an address list (header value or API string) the way JavaMail's strict
    `InternetAddress.parse` does, raising its message on the first syntax error."""
    return _Lister(text).run()


def group_members(group_addr: str) -> str:
    """The member list of a group address: between the first ':' and the final ';'."""
    return group_addr[group_addr.index(":") + 1 : -1]


def check_address(addr: str, *, route_addr: bool, validate: bool) -> int:
    """JavaMail's `checkAddress`: raise on a malformed `local@domain`; return the index of
    the '@' (or -1 when `validate` is false and there is none)."""
    length = len(addr)
    if length == 0:
        raise AddressSyntaxError("Empty address")
    start = 0
    if route_addr and addr[0] == "@":
        # A source route: @a,@b:local@domain
        while True:
            i = _index_of_any(addr, ",:", start)
            if i < 0:
                break
            if addr[start] != "@":
                raise AddressSyntaxError("Illegal route-addr")
            if addr[i] == ":":
                start = i + 1
                break
            start = i + 1

    c = ""
    last = ""
    in_quote = False
    i = start
    while i < length:
        last = c
        c = addr[i]
        # JavaMail tolerates a quoted-pair outside quotes too.
        if c == "\\" or last == "\\":
            i += 1
            continue
        if c == '"':
            if in_quote:
                if validate and i + 1 < length and addr[i + 1] != "@":
                    raise AddressSyntaxError("Quote not at end of local address")
                in_quote = False
            else:
                if validate and i != 0:
                    raise AddressSyntaxError("Quote not at start of local address")
                in_quote = True
            i += 1
            continue
        if c == "\r":
            if i + 1 < length and addr[i + 1] != "\n":
                raise AddressSyntaxError("Quoted local address contains CR without LF")
        elif c == "\n" and i + 1 < length and addr[i + 1] not in " \t":
            raise AddressSyntaxError("Quoted local address contains newline without whitespace")
        if in_quote:
            i += 1
            continue
        if c == ".":
            if i == start:
                raise AddressSyntaxError("Local address starts with dot")
            if last == ".":
                raise AddressSyntaxError("Local address contains dot-dot")
        if c == "@":
            if i == 0:
                raise AddressSyntaxError("Missing local name")
            if last == ".":
                raise AddressSyntaxError("Local address ends with dot")
            break
        if c <= " " or c == "\x7f":
            raise AddressSyntaxError("Local address contains control or whitespace")
        if c in _SPECIALS_NO_DOT:
            raise AddressSyntaxError("Local address contains illegal character")
        i += 1
    if in_quote:
        raise AddressSyntaxError("Unterminated quote")

    if c != "@":
        if validate:
            raise AddressSyntaxError("Missing final '@domain'")
        return -1
    at = i

    start = at + 1
    if start >= length:
        raise AddressSyntaxError("Missing domain")
    if addr[start] == ".":
        raise AddressSyntaxError("Domain starts with dot")
    in_literal = False
    last = ""
    for i in range(start, length):
        c = addr[i]
        if c == "[":
            if i != start:
                raise AddressSyntaxError("Domain literal not at start of domain")
            in_literal = True
        elif c == "]":
            if i != length - 1:
                raise AddressSyntaxError("Domain literal end not at end of domain")
            in_literal = False
        elif c <= " " or c == "\x7f":
            raise AddressSyntaxError("Domain contains control or whitespace")
        elif not in_literal:
            # RFC 1034 letters, digits, hyphen and dots; non-ASCII never gets this far.
            if not (c.isascii() and (c.isalnum() or c in "-.")):
                raise AddressSyntaxError("Domain contains illegal character")
            if c == "." and last == ".":
                raise AddressSyntaxError("Domain contains dot-dot")
        last = c
    if last == ".":
        raise AddressSyntaxError("Domain ends with dot")
    return at


def _index_of_any(text: str, chars: str, start: int) -> int:
    for i in range(start, len(text)):
        if text[i] in chars:
            return i
    return -1


def _unquote(text: str) -> str:
    if len(text) > 1 and text.startswith('"') and text.endswith('"'):
        inner = text[1:-1]
        if "\\" not in inner:
            return inner
        out: list[str] = []
        i = 0
        while i < len(inner):
            ch = inner[i]
            if ch == "\\" and i < len(inner) - 1:
                i += 1
                ch = inner[i]
            out.append(ch)
            i += 1
        return "".join(out)
    return text


class _Lister:
    """The state machine of JavaMail's `InternetAddress.parse(s, strict=true)`.

    Indices, not slices, because the personal name and the address are cut from the input
    by positions recorded while scanning, exactly as JavaMail does.
    """

    def __init__(self, text: str) -> None:
        self.s = text
        self.out: list[RawAddress] = []
        self._reset()
        self.in_group = False

    def _reset(self) -> None:
        self.start_personal = -1
        self.end_personal = -1
        self._skip_empty()

    def _skip_empty(self) -> None:
        # JavaMail keeps a pending comment across an empty entry ("(Bob), a@x" names a@x
        # "Bob"); only the address positions are cleared.
        self.start = -1
        self.end = -1
        self.entry_start = -1
        self.route_addr = False
        self.rfc822 = False

    def run(self) -> list[RawAddress]:
        s = self.s
        n = len(s)
        i = 0
        while i < n:
            c = s[i]
            if self.entry_start == -1 and c not in _WHITESPACE and c not in ",;":
                self.entry_start = i
            if c == "(":
                i = self._comment(i)
            elif c == ")":
                raise AddressSyntaxError("Missing '('")
            elif c == "<":
                i = self._angle(i)
            elif c == ">":
                raise AddressSyntaxError("Missing '<'")
            elif c == '"':
                i = self._skip_delimited(i, '"', "Missing '\"'")
            elif c == "[":
                i = self._skip_delimited(i, "]", "Missing ']'")
            elif c == ";":
                self._semicolon(i)
            elif c == ",":
                self._comma(i)
            elif c == ":":
                self.rfc822 = True
                if self.in_group:
                    raise AddressSyntaxError("Nested group")
                if self.start == -1:
                    self.start = i
                self.in_group = True
            elif c not in _WHITESPACE and self.start == -1:
                self.start = i
            i += 1
        if self.start >= 0:
            self._emit(n)
        return self.out

    def _comment(self, i: int) -> int:
        s = self.s
        self.rfc822 = True
        if self.start >= 0 and self.end == -1:
            self.end = i
        opening = i
        i += 1
        nesting = 1
        while i < len(s) and nesting > 0:
            c = s[i]
            if c == "\\":
                i += 1
            elif c == "(":
                nesting += 1
            elif c == ")":
                nesting -= 1
            i += 1
        if nesting > 0:
            raise AddressSyntaxError("Missing ')'")
        i -= 1  # back onto the closing parenthesis
        if self.start_personal == -1:
            self.start_personal = opening + 1
        if self.end_personal == -1:
            self.end_personal = i
        return i

    def _angle(self, i: int) -> int:
        s = self.s
        self.rfc822 = True
        if self.route_addr:
            raise AddressSyntaxError("Extra route-addr")
        opening = i
        in_quote = False
        i += 1
        while i < len(s):
            c = s[i]
            if c == "\\":
                i += 1
            elif c == '"':
                in_quote = not in_quote
            elif c == ">" and not in_quote:
                break
            i += 1
        if in_quote:
            raise AddressSyntaxError("Missing '\"'")
        if i >= len(s):
            raise AddressSyntaxError("Missing '>'")
        if not self.in_group:
            if self.start >= 0:
                # Whatever came before '<' is the display name.
                self.start_personal = self.start
                self.end_personal = opening
            self.start = opening + 1
        self.route_addr = True
        self.end = i
        return i

    def _skip_delimited(self, i: int, closing: str, missing: str) -> int:
        s = self.s
        self.rfc822 = True
        if self.start == -1:
            self.start = i
        i += 1
        while i < len(s):
            c = s[i]
            if c == "\\":
                i += 1
            elif c == closing:
                break
            i += 1
        if i >= len(s):
            raise AddressSyntaxError(missing)
        return i

    def _semicolon(self, i: int) -> None:
        if self.start == -1:
            self._skip_empty()
            return
        if not self.in_group:
            raise AddressSyntaxError("Illegal semicolon, not in group")
        self.in_group = False
        group = self.s[self.start : i + 1].strip()
        text = self.s[self.entry_start : i + 1].strip()
        self.out.append(
            RawAddress(text=text, addr=group, personal=None, route_addr=False, is_group=True)
        )
        self._reset()

    def _comma(self, i: int) -> None:
        if self.start == -1:
            self._skip_empty()
            return
        if self.in_group:
            self.route_addr = False
            return
        self._emit(i)

    def _emit(self, i: int) -> None:
        end = self.end if self.end != -1 else i
        addr = self.s[self.start : end].strip()
        personal: str | None = None
        if self.rfc822 and self.start_personal >= 0:
            personal = _unquote(self.s[self.start_personal : self.end_personal].strip())
            if not personal.strip():
                personal = None
        check_address(addr, route_addr=self.route_addr, validate=False)
        text = self.s[self.entry_start : i].strip()
        self.out.append(
            RawAddress(
                text=text,
                addr=addr,
                personal=personal,
                route_addr=self.route_addr,
                is_group=False,
            )
        )
        self._reset()
