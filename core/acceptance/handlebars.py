"""The Handlebars subset SES renders templates with, with SES's strictness.

Why not a library: SES does not HTML-escape `{{value}}` (DG send-personalized-email-
advanced: "SES doesn't escape HTML content"), and it refuses a printed attribute that is
absent from the data ("Attribute 'x' is not present in the rendering data."). pybars3
escapes and renders a missing value as empty, has had no release since 2019 and depends
on the unmaintained PyMeta3; chevron is Mustache, without `#if`/`#each`/`else`.

Supported, as the DG documents and handlebars.js behaves:
- `{{path}}`, `{{{path}}}`, `{{&path}}` (all three print as is), paths `a.b`, `a/b`,
  `this`, `.`, `../x`, `[odd key]`, `@index`, `@key`, `@first`, `@last`, `@root.x`,
  `items.length`;
- blocks `#if`, `#unless` (with `includeZero=true`), `#each` (arrays and objects,
  `as |item index|`), `#with`, Mustache-style `{{#name}}` / `{{^name}}` sections,
  `{{else}}`, `{{^}}`, `{{else if ...}}` chains;
- inline partials `{{#*inline "name"}}...{{/inline}}` called with `{{> name}}`
  (optionally with a context and `key=value` pairs), helpers `lookup` and `log`;
- comments `{{! }}` and `{{!-- --}}`, whitespace control `{{~ ~}}`, standalone lines,
  `\\{{` for a literal `{{`.

Strictness (SES's exact rule is UNCONFIRMED): a value is required only where it is
printed. `{{name}}` with `name` absent or null fails (null: aws-sdk-js#2239, where
`"website": null` made SES drop the message with a rendering failure). Block and helper
arguments (`{{#if name}}`, `{{#each list}}`) read an absent value as false or empty,
which is the DG's own use of `#if` ("format the email differently if a certain attribute
is present"). Values print as JavaScript would: `true`, `3`, `1.5`, `a,b` for a list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class TemplateSyntaxError(ValueError):
    """The template cannot be parsed or refers to something that does not exist."""


class MissingAttributeError(LookupError):
    """A printed path has no value; `path` is the expression as written."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def render(source: str, data: Any) -> str:
    """Render `source` with `data` (decoded JSON)."""
    return _Renderer().render_program(parse(source), _Scope.root(data), _Partials())


def parse(source: str) -> list[Node]:
    """Parse a template; raises TemplateSyntaxError."""
    return _Parser(_apply_whitespace_rules(_tokenize(source))).parse_root()


# --- tokens --------------------------------------------------------------------------------


@dataclass
class _Text:
    value: str


@dataclass
class _Tag:
    kind: str  # "{", "&", "#", "#*", "^", "/", ">", "!", "else", "" (plain mustache)
    body: str  # what follows the kind marker, trimmed
    strip_before: bool
    strip_after: bool
    line: int

    @property
    def standalone_kind(self) -> bool:
        return self.kind in ("#", "#*", "^", "/", ">", "!", "else")


_Token = _Text | _Tag


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    text: list[str] = []
    position = 0
    length = len(source)
    while position < length:
        opening = source.find("{{", position)
        if opening == -1:
            text.append(source[position:])
            break
        before = source[position:opening]
        if before.endswith("\\\\"):
            # As in handlebars.js: two backslashes before "{{" print one, then the tag.
            text.append(before[:-1])
        elif before.endswith("\\"):
            # One backslash before "{{" prints the tag itself as text.
            text.append(before[:-1])
            closing = source.find("}}", opening)
            stop = length if closing == -1 else closing + 2
            text.append(source[opening:stop])
            position = stop
            continue
        else:
            text.append(before)
        if text:
            tokens.append(_Text("".join(text)))
            text = []
        tag, position = _read_tag(source, opening)
        tokens.append(tag)
    if text:
        tokens.append(_Text("".join(text)))
    return [token for token in tokens if not (isinstance(token, _Text) and not token.value)]


_CLOSERS = {
    "triple": re.compile(r"~?\}\}\}"),
    "comment": re.compile(r"--~?\}\}"),
    "plain": re.compile(r"~?\}\}"),
}


def _read_tag(source: str, opening: int) -> tuple[_Tag, int]:
    line = source.count("\n", 0, opening) + 1
    if source.startswith("{{{{", opening):
        raise TemplateSyntaxError(f"raw blocks are not supported (line {line})")
    triple = source.startswith("{{{", opening)
    inner_start = opening + (3 if triple else 2)
    strip_before = source.startswith("~", inner_start)
    if strip_before:
        inner_start += 1
    if triple:
        closer = _CLOSERS["triple"]
    elif source.startswith("!--", inner_start):
        closer = _CLOSERS["comment"]
    else:
        closer = _CLOSERS["plain"]
    match = closer.search(source, inner_start)
    if match is None:
        raise TemplateSyntaxError(f"unclosed tag on line {line}")
    strip_after = "~" in match.group()
    inner = source[inner_start : match.start()]
    if triple:
        return _Tag("{", inner.strip(), strip_before, strip_after, line), match.end()
    kind, body = _classify(inner)
    return _Tag(kind, body, strip_before, strip_after, line), match.end()


def _classify(inner: str) -> tuple[str, str]:
    if inner.startswith("!"):
        return "!", ""
    for marker in ("#*", "#", "^", "/", ">", "&"):
        if inner.startswith(marker):
            return marker, inner[len(marker) :].strip()
    stripped = inner.strip()
    if stripped == "else" or stripped.startswith(("else ", "else\t", "else\n")):
        return "else", stripped[4:].strip()
    return "", stripped


def _apply_whitespace_rules(tokens: list[_Token]) -> list[_Token]:
    """`~` strips neighbouring whitespace; a block, comment, partial or else tag alone on
    its line takes the line's indentation and line break with it."""
    for index, token in enumerate(tokens):
        if not isinstance(token, _Tag):
            continue
        before = tokens[index - 1] if index > 0 else None
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        if token.strip_before and isinstance(before, _Text):
            before.value = before.value.rstrip()
        if token.strip_after and isinstance(after, _Text):
            after.value = after.value.lstrip()
    # Decide every tag on the text as written before trimming any of it, as two
    # standalone tags on consecutive lines share the line break between them.
    standalone = [
        index
        for index, token in enumerate(tokens)
        if isinstance(token, _Tag)
        and token.standalone_kind
        and _opens_line(tokens[index - 1] if index > 0 else None, index)
        and _closes_line(tokens[index + 1] if index + 1 < len(tokens) else None, index, len(tokens))
    ]
    for index in standalone:
        before = tokens[index - 1] if index > 0 else None
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        if isinstance(before, _Text):
            before.value = before.value.rstrip(" \t")
        if isinstance(after, _Text):
            after.value = re.sub(r"^[ \t]*(\r?\n)?", "", after.value, count=1)
    return tokens


def _opens_line(before: _Token | None, index: int) -> bool:
    if before is None:
        return True
    if not isinstance(before, _Text):
        return False
    tail = before.value.rstrip(" \t")
    return tail.endswith("\n") or (tail == "" and index == 1)


def _closes_line(after: _Token | None, index: int, count: int) -> bool:
    if after is None:
        return True
    if not isinstance(after, _Text):
        return False
    head = after.value.lstrip(" \t")
    return head.startswith(("\n", "\r\n")) or (head == "" and index + 2 == count)


# --- expressions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Path:
    original: str
    parts: tuple[str, ...]
    depth: int = 0  # how many "../"
    data: bool = False  # an @variable
    scoped: bool = False  # written with "this" or "./": never a block parameter


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class SubExpression:
    call: Call


Expression = Path | Literal | SubExpression


@dataclass(frozen=True)
class Call:
    head: Expression
    params: tuple[Expression, ...] = ()
    hash: tuple[tuple[str, Expression], ...] = ()
    block_params: tuple[str, ...] = ()

    @property
    def helper_name(self) -> str | None:
        if isinstance(self.head, Path) and not self.head.data and self.head.depth == 0:
            return self.head.original
        return None


_EXPRESSION_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<open>\()
      | (?P<close>\))
      | (?P<blockparams>\bas\s+\|[^|]*\|)
      | (?P<key>[^\s=()"'|]+)=
      | (?P<word>(?:\[[^\]]*\]|[^\s=()"'|\[])+)
    )""",
    re.VERBOSE,
)

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _parse_call(text: str, line: int) -> Call:
    tokens = _expression_tokens(text, line)
    call, rest = _parse_call_tokens(tokens, line)
    if rest:
        raise TemplateSyntaxError(f"unexpected ')' on line {line}")
    return call


def _expression_tokens(text: str, line: int) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _EXPRESSION_TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise TemplateSyntaxError(f"cannot parse '{text}' on line {line}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _parse_call_tokens(tokens: list[tuple[str, str]], line: int) -> tuple[Call, list]:
    items: list[Expression] = []
    hash_pairs: list[tuple[str, Expression]] = []
    block_params: tuple[str, ...] = ()
    rest = tokens
    while rest:
        kind, value = rest[0]
        if kind == "close":
            break
        rest = rest[1:]
        if kind == "blockparams":
            names = value[value.index("|") + 1 : -1].split()
            block_params = tuple(names)
        elif kind == "key":
            if not rest:
                raise TemplateSyntaxError(f"'{value}=' has no value on line {line}")
            expression, rest = _parse_operand(rest, line)
            hash_pairs.append((value, expression))
        else:
            expression, rest = _parse_operand([(kind, value), *rest], line)
            items.append(expression)
    if not items:
        raise TemplateSyntaxError(f"empty expression on line {line}")
    call = Call(items[0], tuple(items[1:]), tuple(hash_pairs), block_params)
    return call, rest


def _parse_operand(
    tokens: list[tuple[str, str]], line: int
) -> tuple[Expression, list[tuple[str, str]]]:
    kind, value = tokens[0]
    rest = tokens[1:]
    if kind == "open":
        call, rest = _parse_call_tokens(rest, line)
        if not rest or rest[0][0] != "close":
            raise TemplateSyntaxError(f"missing ')' on line {line}")
        return SubExpression(call), rest[1:]
    if kind == "string":
        return Literal(_unescape_string(value[1:-1])), rest
    if kind == "word":
        return _word(value, line), rest
    raise TemplateSyntaxError(f"unexpected '{value}' on line {line}")


def _unescape_string(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _word(word: str, line: int) -> Expression:
    if word in ("true", "false"):
        return Literal(word == "true")
    if word in ("null", "undefined"):
        return Literal(None)
    if _NUMBER.fullmatch(word):
        number = float(word)
        return Literal(int(number) if number.is_integer() and "." not in word else number)
    return _path(word, line)


def _path(word: str, line: int) -> Path:
    rest = word
    data = rest.startswith("@")
    if data:
        rest = rest[1:]
    depth = 0
    while rest.startswith("../") or rest == "..":
        depth += 1
        rest = rest[3:]
    scoped = rest.startswith(("./", "this.", "this/"))
    if rest.startswith("./"):
        rest = rest[2:]
    parts = [
        segment[1:-1] if segment.startswith("[") else segment
        for segment in re.findall(r"\[[^\]]*\]|[^./\[]+", rest)
    ]
    if parts and parts[0] == "this" and not data:
        parts = parts[1:]
    if any(part in ("..", "this") for part in parts[1:]):
        raise TemplateSyntaxError(f"invalid path '{word}' on line {line}")
    return Path(original=word, parts=tuple(parts), depth=depth, data=data, scoped=scoped)


# --- syntax tree ---------------------------------------------------------------------------


@dataclass
class TextNode:
    value: str


@dataclass
class MustacheNode:
    call: Call
    line: int


@dataclass
class BlockNode:
    call: Call
    program: list[Node]
    inverse: list[Node] | None
    inverted: bool  # {{^name}}
    line: int


@dataclass
class PartialNode:
    name: str
    context: Expression | None
    hash: tuple[tuple[str, Expression], ...]
    line: int


@dataclass
class InlinePartialNode:
    name: str
    program: list[Node]


Node = TextNode | MustacheNode | BlockNode | PartialNode | InlinePartialNode


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.position = 0

    def parse_root(self) -> list[Node]:
        nodes, stop = self._program()
        if stop is not None:
            word = "else" if stop.kind == "else" else f"{{{{/{stop.body}}}}}"
            raise TemplateSyntaxError(f"unexpected {word} on line {stop.line}")
        return nodes

    def _program(self) -> tuple[list[Node], _Tag | None]:
        """Nodes up to the next close or else tag, which is consumed and returned."""
        nodes: list[Node] = []
        while self.position < len(self.tokens):
            token = self.tokens[self.position]
            self.position += 1
            if isinstance(token, _Text):
                nodes.append(TextNode(token.value))
            elif token.kind in ("/", "else") or (token.kind == "^" and not token.body):
                return nodes, token
            elif token.kind == "!":
                continue
            elif token.kind in ("", "{", "&"):
                nodes.append(MustacheNode(_parse_call(token.body, token.line), token.line))
            elif token.kind == ">":
                nodes.append(self._partial(token))
            elif token.kind == "#*":
                nodes.append(self._inline_partial(token))
            else:
                nodes.append(self._block(token))
        return nodes, None

    def _block(self, opening: _Tag) -> BlockNode:
        if opening.body.startswith(">"):
            raise TemplateSyntaxError(f"partial blocks are not supported (line {opening.line})")
        call = _parse_call(opening.body, opening.line)
        name = _block_name(call, opening)
        program, stop = self._program()
        inverse: list[Node] | None = None
        if stop is not None and (stop.kind == "else" or stop.kind == "^"):
            inverse, stop = self._else_branch(stop)
        if stop is None:
            raise TemplateSyntaxError(f"{name} on line {opening.line} is never closed")
        if stop.body != name:
            raise TemplateSyntaxError(f"{name} doesn't match {stop.body} on line {stop.line}")
        return BlockNode(call, program, inverse, opening.kind == "^", opening.line)

    def _else_branch(self, stop: _Tag) -> tuple[list[Node], _Tag | None]:
        if stop.kind == "else" and stop.body:
            # {{else if x}}: the rest of the chain is a block of its own that shares the
            # outer block's closing tag.
            call = _parse_call(stop.body, stop.line)
            program, inner_stop = self._program()
            inverse: list[Node] | None = None
            if inner_stop is not None and inner_stop.kind in ("else", "^"):
                inverse, inner_stop = self._else_branch(inner_stop)
            return [BlockNode(call, program, inverse, False, stop.line)], inner_stop
        inverse, after = self._program()
        if after is not None and after.kind != "/":
            raise TemplateSyntaxError(f"a second else on line {after.line}")
        return inverse, after

    def _partial(self, token: _Tag) -> PartialNode:
        call = _parse_call(token.body, token.line)
        head = call.head
        if isinstance(head, Literal) and isinstance(head.value, str):
            name = head.value
        elif isinstance(head, Path):
            name = head.original
        else:
            raise TemplateSyntaxError(f"invalid partial name on line {token.line}")
        if len(call.params) > 1:
            raise TemplateSyntaxError(f"a partial takes one context (line {token.line})")
        context = call.params[0] if call.params else None
        return PartialNode(name, context, call.hash, token.line)

    def _inline_partial(self, token: _Tag) -> InlinePartialNode:
        call = _parse_call(token.body, token.line)
        if call.helper_name != "inline" or len(call.params) != 1:
            raise TemplateSyntaxError(f"unsupported decorator on line {token.line}")
        name_expression = call.params[0]
        if not (isinstance(name_expression, Literal) and isinstance(name_expression.value, str)):
            raise TemplateSyntaxError(f"an inline partial needs a quoted name (line {token.line})")
        program, stop = self._program()
        if stop is None or stop.kind != "/" or stop.body != "inline":
            raise TemplateSyntaxError(f"inline on line {token.line} is never closed")
        return InlinePartialNode(name_expression.value, program)


def _block_name(call: Call, opening: _Tag) -> str:
    if isinstance(call.head, Path):
        return call.head.original
    raise TemplateSyntaxError(f"invalid block on line {opening.line}")


# --- rendering -----------------------------------------------------------------------------


class _Missing:
    """An absent value; distinct from JSON null."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class _Scope:
    """One context frame. `../` walks `parent`, which only context changes create."""

    context: Any
    parent: _Scope | None
    data: Mapping[str, Any]
    block_params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def root(cls, context: Any) -> _Scope:
        return cls(context=context, parent=None, data={"root": context})

    def child(self, context: Any, data: Mapping[str, Any] | None = None) -> _Scope:
        return _Scope(context, self, {**self.data, **(data or {})}, self.block_params)

    def same_context(
        self, data: Mapping[str, Any] | None = None, block_params: Mapping[str, Any] | None = None
    ) -> _Scope:
        return _Scope(
            self.context,
            self.parent,
            {**self.data, **(data or {})},
            {**self.block_params, **(block_params or {})},
        )

    def up(self, depth: int) -> _Scope:
        scope = self
        for _ in range(depth):
            scope = scope.parent or scope
        return scope


@dataclass(frozen=True)
class _Partials:
    by_name: Mapping[str, list[Node]] = field(default_factory=dict)

    def with_definitions(self, nodes: list[Node]) -> _Partials:
        defined = {node.name: node.program for node in nodes if isinstance(node, InlinePartialNode)}
        return _Partials({**self.by_name, **defined}) if defined else self


def _get(container: Any, key: str) -> Any:
    if isinstance(container, Mapping):
        return container.get(key, MISSING)
    if isinstance(container, list | str):
        if key == "length":
            return len(container)
        if key.isdigit() and isinstance(container, list):
            index = int(key)
            return container[index] if index < len(container) else MISSING
    return MISSING


def _truthy(value: Any, include_zero: bool = False) -> bool:
    if value is MISSING or value is None or value is False:
        return False
    if isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return include_zero or value != 0
    if isinstance(value, str | list):
        return len(value) > 0
    return True


def to_text(value: Any) -> str:
    """What JavaScript's String(value) gives for decoded JSON."""
    if value is None or value is MISSING:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _js_number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join(to_text(item) for item in value)
    return "[object Object]"


def _js_number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        return f"{mantissa.removesuffix('.0')}e{sign}{exponent.lstrip('+-').lstrip('0')}"
    return text


_BLOCK_HELPERS = frozenset({"if", "unless", "each", "with"})

# Deeper than any real template nests; stops a partial that calls itself.
_MAX_PARTIAL_DEPTH = 64


class _Renderer:
    def __init__(self) -> None:
        self.partial_depth = 0

    def render_program(self, nodes: list[Node], scope: _Scope, partials: _Partials) -> str:
        partials = partials.with_definitions(nodes)
        return "".join(self._node(node, scope, partials) for node in nodes)

    def _node(self, node: Node, scope: _Scope, partials: _Partials) -> str:
        if isinstance(node, TextNode):
            return node.value
        if isinstance(node, MustacheNode):
            return self._mustache(node, scope)
        if isinstance(node, BlockNode):
            return self._block(node, scope, partials)
        if isinstance(node, PartialNode):
            return self._partial(node, scope, partials)
        return ""  # inline partial definitions print nothing

    def _mustache(self, node: MustacheNode, scope: _Scope) -> str:
        call = node.call
        name = call.helper_name
        if name == "lookup":
            return to_text(self._lookup(call, scope))
        if name == "log":
            return ""
        if call.params or call.hash:
            raise TemplateSyntaxError(f"missing helper: {name or '?'} (line {node.line})")
        value = self._value(call.head, scope)
        if value is MISSING or value is None:
            raise MissingAttributeError(_describe(call.head))
        return to_text(value)

    def _block(self, node: BlockNode, scope: _Scope, partials: _Partials) -> str:
        call = node.call
        name = call.helper_name
        if node.inverted and name in _BLOCK_HELPERS:
            # {{^if x}}: the helper with its two branches swapped.
            swapped = BlockNode(call, node.inverse or [], node.program, False, node.line)
            return self._block(swapped, scope, partials)
        if node.inverted:
            value = self._value(call.head, scope)
            chosen = node.program if not _truthy(value) else node.inverse
            return self.render_program(chosen or [], scope, partials)
        if name in ("if", "unless"):
            if len(call.params) != 1:
                raise TemplateSyntaxError(f"#{name} takes one argument (line {node.line})")
            include_zero = self._hash(call, scope).get("includeZero") is True
            condition = _truthy(self._value(call.params[0], scope), include_zero)
            if name == "unless":
                condition = not condition
            chosen = node.program if condition else node.inverse
            return self.render_program(chosen or [], scope, partials)
        if name == "each":
            if len(call.params) != 1:
                raise TemplateSyntaxError(f"#each takes one argument (line {node.line})")
            return self._each(node, self._value(call.params[0], scope), scope, partials)
        if name == "with":
            if len(call.params) != 1:
                raise TemplateSyntaxError(f"#with takes one argument (line {node.line})")
            value = self._value(call.params[0], scope)
            if not _truthy(value):
                return self.render_program(node.inverse or [], scope, partials)
            if call.block_params:
                inner = scope.same_context(block_params={call.block_params[0]: value})
                return self.render_program(node.program, inner, partials)
            return self.render_program(node.program, scope.child(value), partials)
        if call.params or call.hash:
            raise TemplateSyntaxError(f"missing helper: {name or '?'} (line {node.line})")
        return self._section(node, scope, partials)

    def _section(self, node: BlockNode, scope: _Scope, partials: _Partials) -> str:
        # Mustache-style {{#name}}: true keeps the context, a list iterates, an object
        # becomes the context, anything falsy renders the inverse.
        value = self._value(node.call.head, scope)
        if value is True:
            return self.render_program(node.program, scope, partials)
        if not _truthy(value):
            return self.render_program(node.inverse or [], scope, partials)
        if isinstance(value, list):
            return self._each(node, value, scope, partials)
        return self.render_program(node.program, scope.child(value), partials)

    def _each(self, node: BlockNode, value: Any, scope: _Scope, partials: _Partials) -> str:
        items: list[tuple[str | int, Any]]
        if isinstance(value, list):
            items = list(enumerate(value))
        elif isinstance(value, Mapping):
            items = list(value.items())
        else:
            items = []
        if not items:
            return self.render_program(node.inverse or [], scope, partials)
        names = node.call.block_params
        out: list[str] = []
        for position, (key, item) in enumerate(items):
            data = {
                "index": position,
                "key": key,
                "first": position == 0,
                "last": position == len(items) - 1,
            }
            if names:
                params = {names[0]: item}
                if len(names) > 1:
                    params[names[1]] = key
                inner = scope.child(item, data).same_context(block_params=params)
            else:
                inner = scope.child(item, data)
            out.append(self.render_program(node.program, inner, partials))
        return "".join(out)

    def _partial(self, node: PartialNode, scope: _Scope, partials: _Partials) -> str:
        program = partials.by_name.get(node.name)
        if program is None:
            raise TemplateSyntaxError(f"the partial {node.name} could not be found")
        context = scope.context if node.context is None else self._value(node.context, scope)
        extra = self._hash_from(node.hash, scope)
        if extra:
            base = context if isinstance(context, Mapping) else {}
            context = {**base, **extra}
        inner = scope if context is scope.context else scope.child(context)
        if self.partial_depth >= _MAX_PARTIAL_DEPTH:
            raise TemplateSyntaxError(f"the partial {node.name} calls itself too deeply")
        self.partial_depth += 1
        try:
            return self.render_program(program, inner, partials)
        finally:
            self.partial_depth -= 1

    def _lookup(self, call: Call, scope: _Scope) -> Any:
        if len(call.params) != 2:
            raise TemplateSyntaxError("lookup takes two arguments")
        container = self._value(call.params[0], scope)
        key = self._value(call.params[1], scope)
        if key is MISSING or key is None:
            return MISSING
        return _get(container, to_text(key))

    def _hash(self, call: Call, scope: _Scope) -> dict[str, Any]:
        return self._hash_from(call.hash, scope)

    def _hash_from(self, pairs: tuple[tuple[str, Expression], ...], scope: _Scope) -> dict:
        return {key: self._value(expression, scope) for key, expression in pairs}

    def _value(self, expression: Expression, scope: _Scope) -> Any:
        if isinstance(expression, Literal):
            return expression.value
        if isinstance(expression, SubExpression):
            if expression.call.helper_name == "lookup":
                return self._lookup(expression.call, scope)
            raise TemplateSyntaxError(f"missing helper: {expression.call.helper_name or '?'}")
        return self._resolve(expression, scope)

    def _resolve(self, path: Path, scope: _Scope) -> Any:
        if path.data:
            if not path.parts:
                return MISSING
            value = scope.up(path.depth).data.get(path.parts[0], MISSING)
            return _walk(value, path.parts[1:])
        if (
            path.depth == 0
            and not path.scoped
            and path.parts
            and path.parts[0] in scope.block_params
        ):
            return _walk(scope.block_params[path.parts[0]], path.parts[1:])
        return _walk(scope.up(path.depth).context, path.parts)


def _walk(value: Any, parts: tuple[str, ...] | list[str]) -> Any:
    for part in parts:
        if value is MISSING or value is None:
            return MISSING
        value = _get(value, part)
    return value


def _describe(expression: Expression) -> str:
    return expression.original if isinstance(expression, Path) else "?"
