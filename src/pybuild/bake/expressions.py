"""HCL values as a bake file holds them: python-hcl2 parses the file and leaves strings with
their quotes and `${...}` templates as written; this module turns them into plain values.

Templates interpolate expressions: names (variables, matrix values), string and number
literals, lists and objects, function calls, `!`, `&&`, `||`, comparisons, `+ - * /` and
`cond ? a : b`. The functions are the common part of those buildx offers (go-cty's standard
library): case, join/split, trimming, replace, format with %s and %d, equality, length,
coalesce, concat, contains, and a few more. An unknown name or function is an error naming it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import UsageError

TOKEN = re.compile(
    r"""\s*(?:
    (?P<number>\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!?:(),\[\]{}.=])
    )""",
    re.VERBOSE,
)


def _format(spec: str, *values: Any) -> str:
    parts = iter(values)
    return re.sub(r"%[sdv]", lambda m: str(next(parts, "")), spec).replace("%%", "%")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "upper": lambda s: str(s).upper(),
    "lower": lambda s: str(s).lower(),
    "title": lambda s: str(s).title(),
    "join": lambda sep, items: str(sep).join(str(item) for item in items),
    "split": lambda sep, s: str(s).split(str(sep)),
    "replace": lambda s, old, new: str(s).replace(str(old), str(new)),
    "trimprefix": lambda s, prefix: str(s).removeprefix(str(prefix)),
    "trimsuffix": lambda s, suffix: str(s).removesuffix(str(suffix)),
    "trimspace": lambda s: str(s).strip(),
    "trim": lambda s, chars: str(s).strip(str(chars)),
    "substr": lambda s, start, length: str(s)[int(start) : int(start) + int(length)],
    "format": _format,
    "equal": lambda a, b: a == b,
    "notequal": lambda a, b: a != b,
    "and": lambda *values: all(values),
    "or": lambda *values: any(values),
    "not": lambda value: not value,
    "length": len,
    "coalesce": lambda *values: next((v for v in values if v not in (None, "")), None),
    "concat": lambda *lists: [item for items in lists for item in items],
    "contains": lambda items, value: value in items,
    "distinct": lambda items: list(dict.fromkeys(items)),
    "flatten": lambda items: [
        x for item in items for x in (item if isinstance(item, list) else [item])
    ],
    "keys": lambda value: sorted(value),
    "values": lambda value: [value[key] for key in sorted(value)],
    "lookup": lambda value, key, default=None: value.get(key, default),
    "merge": lambda *maps: {k: v for m in maps for k, v in m.items()},
    "max": max,
    "min": min,
    "tostring": str,
    "tonumber": lambda value: float(value) if "." in str(value) else int(value),
}


class Scope:
    """Names an expression can see: variables (resolved on first use, so one variable's
    default may use another's) and matrix values."""

    def __init__(self, lookup: Callable[[str], Any], where: str):
        self.lookup, self.where = lookup, where

    def error(self, message: str) -> UsageError:
        return UsageError(f"{self.where}: {message}")


def value_of(raw: Any, scope: Scope) -> Any:
    """A python-hcl2 value made plain: quoted strings are templates, `${...}` alone is an
    expression (and keeps its type), lists and objects are walked."""
    if isinstance(raw, list):
        return [value_of(item, scope) for item in raw]
    if isinstance(raw, dict):
        return {
            _unquoted(key): value_of(item, scope)
            for key, item in raw.items()
            if key != "__is_block__"
        }
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return template(_unescaped(text[1:-1]), scope)
    if text.startswith("${") and text.endswith("}") and _closing(text, 2) == len(text) - 1:
        return expression(text[2:-1], scope)
    return expression(text, scope)


def template(text: str, scope: Scope) -> Any:
    """A string with `${expr}` parts; one that is a single `${expr}` keeps the value's type."""
    parts, start = [], 0
    while (found := text.find("${", start)) != -1:
        if found > 0 and text[found - 1] == "$":  # `$${` is a literal `${`
            parts.append(text[start : found - 1] + "${")
            start = found + 2
            continue
        end = _closing(text, found + 2)
        parts.append(text[start:found])
        parts.append(expression(text[found + 2 : end], scope))
        start = end + 1
    parts.append(text[start:])
    kept = [part for part in parts if part != ""]
    if len(kept) == 1 and not isinstance(kept[0], str):
        return kept[0]
    return "".join(_text(part) for part in parts)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _closing(text: str, start: int) -> int:
    """Where the `}` that closes a `${` opened before `start` is (strings and braces counted)."""
    depth, index, quoted = 0, start, False
    while index < len(text):
        char = text[index]
        if quoted:
            if char == "\\":
                index += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return index
            depth -= 1
        index += 1
    raise UsageError(f"unclosed ${{ in {text!r}")


def _unquoted(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == '"' else key


def _unescaped(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def expression(text: str, scope: Scope) -> Any:
    parser = _Parser(text, scope)
    try:
        value = parser.conditional()
    except (ArithmeticError, TypeError, IndexError, KeyError, ValueError) as error:
        raise scope.error(f"cannot evaluate {text!r}: {type(error).__name__}") from None
    if parser.peek() is not None:
        raise scope.error(f"cannot read the expression {text!r} (at {parser.peek()!r})")
    return value


class _Parser:
    """A small recursive-descent reader of HCL expressions that evaluates as it reads."""

    def __init__(self, text: str, scope: Scope):
        self.scope, self.text = scope, text
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            if text[position:].strip() == "":
                break
            match = TOKEN.match(text, position)
            if match is None:
                raise scope.error(f"cannot read {text[position:]!r} in {text!r}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.index >= len(self.tokens):
            raise self.scope.error(f"the expression {self.text!r} ends too soon")
        token = self.tokens[self.index]
        if expected is not None and token[1] != expected:
            raise self.scope.error(f"expected {expected!r} in {self.text!r}, found {token[1]!r}")
        self.index += 1
        return token

    def conditional(self) -> Any:
        test = self.either()
        if self.peek() != "?":
            return test
        self.take("?")
        yes = self.conditional()
        self.take(":")
        no = self.conditional()
        return yes if test else no

    def either(self) -> Any:
        value = self.both()
        while self.peek() == "||":
            self.take()
            other = self.both()
            value = bool(value) or bool(other)
        return value

    def both(self) -> Any:
        value = self.compared()
        while self.peek() == "&&":
            self.take()
            other = self.compared()
            value = bool(value) and bool(other)
        return value

    def compared(self) -> Any:
        value = self.sum()
        operations: dict[str, Callable[[Any, Any], bool]] = {
            "==": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            "<": lambda a, b: a < b,
            ">": lambda a, b: a > b,
            "<=": lambda a, b: a <= b,
            ">=": lambda a, b: a >= b,
        }
        if self.peek() in operations:
            operator = self.take()[1]
            return operations[operator](value, self.sum())
        return value

    def sum(self) -> Any:
        value = self.product()
        while self.peek() in ("+", "-"):
            operator = self.take()[1]
            other = self.product()
            value = value + other if operator == "+" else value - other
        return value

    def product(self) -> Any:
        value = self.unary()
        while self.peek() in ("*", "/", "%"):
            operator = self.take()[1]
            other = self.unary()
            value = (
                value * other
                if operator == "*"
                else value / other
                if operator == "/"
                else value % other
            )
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not self.unary()
        if self.peek() == "-":
            self.take()
            return -self.unary()
        return self.postfix()

    def postfix(self) -> Any:
        value = self.primary()
        while self.peek() in ("[", "."):
            if self.take()[1] == "[":
                key = self.conditional()
                self.take("]")
                value = value[int(key) if isinstance(value, list) else key]
            else:
                value = value[self.take()[1]]
        return value

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "string":
            return template(_unescaped(text[1:-1]), self.scope)
        if text == "(":
            value = self.conditional()
            self.take(")")
            return value
        if text == "[":
            items = []
            while self.peek() != "]":
                items.append(self.conditional())
                if self.peek() == ",":
                    self.take()
            self.take("]")
            return items
        if text == "{":
            found: dict[str, Any] = {}
            while self.peek() != "}":
                key = self.primary() if self.tokens[self.index][0] == "string" else self.take()[1]
                self.take("=") if self.peek() == "=" else self.take(":")
                found[str(key)] = self.conditional()
                if self.peek() == ",":
                    self.take()
            self.take("}")
            return found
        if kind == "name":
            if text in ("true", "false"):
                return text == "true"
            if text == "null":
                return None
            if self.peek() == "(":
                return self.call(text)
            return self.scope.lookup(text)
        raise self.scope.error(f"cannot read {text!r} in {self.text!r}")

    def call(self, name: str) -> Any:
        self.take("(")
        arguments = []
        while self.peek() != ")":
            arguments.append(self.conditional())
            if self.peek() == ",":
                self.take()
        self.take(")")
        function = FUNCTIONS.get(name)
        if function is None:
            raise self.scope.error(
                f"unknown function {name}() (known: {', '.join(sorted(FUNCTIONS))})"
            )
        try:
            return function(*arguments)
        except (TypeError, ValueError, KeyError, IndexError) as error:
            raise self.scope.error(f"{name}(): {error}") from None


def plain(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A block's attributes with their names unquoted (the values still raw)."""
    return {_unquoted(key): value for key, value in raw.items() if key != "__is_block__"}
