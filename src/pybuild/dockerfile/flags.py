"""Builder flags (`--name=value`) checked as BuildKit's instruction stage checks them: each
instruction allows its own flags; string flags need a value, bool flags take true/false,
list flags may repeat, any other repeat is an error."""

from __future__ import annotations

from typing import Any

from ..errors import InstructionError, did_you_mean
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
    # RUN is never executed, but its flags are BuildKit's and are checked like theirs, so that
    # parse and explain understand a Dockerfile that uses them.
    "run": {"mount": LIST, "network": STRING, "security": STRING, "device": LIST, "no-cache": BOOL},
    "healthcheck": {
        "interval": STRING,
        "timeout": STRING,
        "start-period": STRING,
        "start-interval": STRING,
        "retries": STRING,
    },
}
UNCHECKED = {"arg", "stopsignal"}  # BuildKit ignores flags on these
# Flags whose values BuildKit checks while parsing: flag -> (allowed values, what to call it).
CHOICES = {
    ("run", "network"): (("default", "none", "host"), "network mode"),
    ("run", "security"): (("sandbox", "insecure"), "security mode"),
}
MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")


def read_flags(keyword: str, flags: tuple[Flag, ...]) -> dict[str, Any]:
    """Validate `flags` for `keyword`; return name -> value (str, bool or list of str)."""
    if keyword in UNCHECKED:
        return {}
    allowed = ALLOWED.get(keyword, {})
    values: dict[str, Any] = {}
    for flag in flags:
        kind = allowed.get(flag.name)
        if kind is None:
            nearest = did_you_mean(flag.name, allowed).replace("mean ", "mean --")
            raise InstructionError(f"unknown flag: --{flag.name}{nearest}", flag.location)
        if kind == LIST:
            if flag.value is None:
                raise InstructionError(f"missing a value on flag: --{flag.name}", flag.location)
            values.setdefault(flag.name, []).append(flag.value)
            _check_value(keyword, flag)
            continue
        if flag.name in values:
            raise InstructionError(f"duplicate flag specified: --{flag.name}", flag.location)
        if kind == BOOL:
            values[flag.name] = _boolean(flag)
        elif flag.value is None:
            raise InstructionError(f"missing a value on flag: --{flag.name}", flag.location)
        else:
            values[flag.name] = flag.value
        _check_value(keyword, flag)
    return values


def _check_value(keyword: str, flag: Flag) -> None:
    """The value checks BuildKit makes when it parses (RUN --network, --security, --mount)."""
    choice = CHOICES.get((keyword, flag.name))
    if choice is not None and flag.value not in choice[0]:
        raise InstructionError(
            f"invalid {choice[1]}: {flag.value} (expected one of {', '.join(choice[0])})",
            flag.location,
        )
    if (keyword, flag.name) == ("run", "mount") and flag.value is not None:
        fields = dict(part.partition("=")[::2] for part in flag.value.split(","))
        kind = fields.get("type", "bind")
        if kind not in MOUNT_TYPES:
            raise InstructionError(
                f"unsupported mount type {kind!r} (expected one of {', '.join(MOUNT_TYPES)})",
                flag.location,
            )


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
