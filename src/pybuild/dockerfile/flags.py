"""Builder flags (`--name=value`) checked as BuildKit's instruction stage checks them: each
instruction allows its own flags; string flags need a value, bool flags take true/false,
list flags may repeat, any other repeat is an error."""

from __future__ import annotations

from typing import Any

from ..errors import InstructionError
from .instructions import Flag

STRING, BOOL, LIST = "string", "bool", "list"

ALLOWED: dict[str, dict[str, str]] = {
    "copy": {
        "chown": STRING,
        "chmod": STRING,
        "from": STRING,
        "link": BOOL,
        "parents": BOOL,
        "exclude": LIST,
    },
    "add": {
        "chown": STRING,
        "chmod": STRING,
        "link": BOOL,
        "keep-git-dir": BOOL,
        "checksum": STRING,
        "unpack": BOOL,
        "exclude": LIST,
    },
    "from": {"platform": STRING},
    "healthcheck": {
        "interval": STRING,
        "timeout": STRING,
        "start-period": STRING,
        "start-interval": STRING,
        "retries": STRING,
    },
}
UNCHECKED = {"arg", "stopsignal"}  # BuildKit ignores flags on these


def read_flags(keyword: str, flags: tuple[Flag, ...]) -> dict[str, Any]:
    """Validate `flags` for `keyword`; return name -> value (str, bool or list of str)."""
    if keyword in UNCHECKED:
        return {}
    allowed = ALLOWED.get(keyword, {})
    values: dict[str, Any] = {}
    for flag in flags:
        kind = allowed.get(flag.name)
        if kind is None:
            raise InstructionError(f"unknown flag: --{flag.name}", flag.location)
        if kind == LIST:
            if flag.value is None:
                raise InstructionError(f"missing a value on flag: --{flag.name}", flag.location)
            values.setdefault(flag.name, []).append(flag.value)
            continue
        if flag.name in values:
            raise InstructionError(f"duplicate flag specified: --{flag.name}", flag.location)
        if kind == BOOL:
            values[flag.name] = _boolean(flag)
        elif flag.value is None:
            raise InstructionError(f"missing a value on flag: --{flag.name}", flag.location)
        else:
            values[flag.name] = flag.value
    return values


def _boolean(flag: Flag) -> bool:
    if flag.value is None:
        return True
    if flag.value == "":
        raise InstructionError(f"missing a value on flag: --{flag.name}", flag.location)
    if flag.value.lower() in ("true", "false"):
        return flag.value.lower() == "true"
    raise InstructionError(
        f"expecting boolean value for flag {flag.name}, not: {flag.value}", flag.location
    )
