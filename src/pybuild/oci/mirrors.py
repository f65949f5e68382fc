"""Where a pull goes: the mirrors of `registries.conf` (v2, as Podman reads it) and
`--registry-mirror` (for Docker Hub names, as Docker's daemon option), tried in order, then
the registry itself.

`registries.conf` is `$CONTAINERS_REGISTRIES_CONF`, else `/etc/containers/registries.conf`:
`[[registry]]` tables with `prefix` (what names it covers: `host[/path]`, or `*.domain`;
`location` when absent), `location` (where such names really live), `insecure` (plain HTTP),
`blocked` (never pull them) and `[[registry.mirror]]` entries (`location`, `insecure`). The
table with the longest matching prefix applies; the rest of the name follows its location.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PybuildError, first_line
from .reference import Reference

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 has no TOML reader of its own
    import tomli as tomllib

DEFAULT_CONF = Path("/etc/containers/registries.conf")


class MirrorError(PybuildError):
    """registries.conf cannot be read, or it blocks the image."""


@dataclass(frozen=True)
class Endpoint:
    """One place to pull an image from: a registry host, the repository there, and whether it
    is reached by plain HTTP."""

    host: str
    path: str
    insecure: bool = False
    mirror: bool = False

    def __str__(self) -> str:
        return f"{self.host}/{self.path}"


@dataclass(frozen=True)
class Rule:
    prefix: str
    location: str
    insecure: bool = False
    blocked: bool = False
    mirrors: tuple[tuple[str, bool], ...] = ()  # (location, insecure)

    def matches(self, name: str) -> bool:
        if self.prefix.startswith("*."):
            host = name.split("/", 1)[0]
            return host.endswith(self.prefix[1:])
        return name == self.prefix or name.startswith(self.prefix + "/")


def read_rules(path: Path | None = None) -> tuple[Rule, ...]:
    """The `[[registry]]` tables of registries.conf (none when there is no file)."""
    path = path or Path(os.environ.get("CONTAINERS_REGISTRIES_CONF") or DEFAULT_CONF)
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        return ()
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise MirrorError(f"cannot read {path}: {first_line(error)}") from None
    rules = []
    for table in document.get("registry") or []:
        if not isinstance(table, dict):
            continue
        location = str(table.get("location") or "")
        prefix = str(table.get("prefix") or location)
        if not prefix:
            raise MirrorError(f"{path}: a [[registry]] has neither prefix nor location")
        mirrors = tuple(
            (str(m.get("location") or ""), bool(m.get("insecure")))
            for m in _tables(table.get("mirror"))
            if m.get("location")
        )
        rules.append(
            Rule(
                prefix,
                location or prefix,
                bool(table.get("insecure")),
                bool(table.get("blocked")),
                mirrors,
            )
        )
    return tuple(rules)


def _tables(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def endpoints(
    ref: Reference, rules: tuple[Rule, ...], docker_mirrors: tuple[str, ...] = ()
) -> list[Endpoint]:
    """Where to try pulling `ref` from, in order: its mirrors, then its (maybe relocated)
    registry. Raises MirrorError when registries.conf blocks it."""
    name = f"{ref.domain}/{ref.path}"
    matching = [rule for rule in rules if rule.matches(name)]
    if not matching:
        hub = [Endpoint(mirror, ref.path, mirror=True) for mirror in docker_mirrors]
        return (
            [*hub, Endpoint(ref.domain, ref.path)]
            if ref.domain == "docker.io"
            else [Endpoint(ref.domain, ref.path)]
        )
    rule = max(matching, key=lambda candidate: len(candidate.prefix))
    if rule.blocked:
        raise MirrorError(f"{name} is blocked by registries.conf (prefix {rule.prefix})")
    rest = "" if rule.prefix.startswith("*.") else name[len(rule.prefix) :]

    def relocated(location: str, insecure: bool, mirror: bool) -> Endpoint:
        host, _, path = (
            location.rstrip("/") + rest
            if not rule.prefix.startswith("*.")
            else location.rstrip("/") + "/" + ref.path
        ).partition("/")
        return Endpoint(host, path, insecure, mirror)

    return [
        *(relocated(location, insecure, True) for location, insecure in rule.mirrors),
        relocated(rule.location, rule.insecure, False),
    ]
