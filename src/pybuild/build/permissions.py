"""`--chown` and `--chmod` values: owners by number or by name (looked up in the image's own
/etc/passwd and /etc/group, as Docker does), and modes in octal or symbolic form."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InstructionError


@dataclass(frozen=True)
class Owner:
    uid: int = 0
    gid: int = 0


ROOT = Owner()


def _lookup(table: str | None, name: str, what: str, *, file: str) -> list[str]:
    """The fields of `name`'s line in an /etc/passwd- or /etc/group-style table."""
    if table is None:
        raise InstructionError(
            f"--chown: cannot look up {what} {name!r}: the image has no {file} "
            "(use a numeric ID, or COPY a {file} in first)".replace("{file}", file)
        )
    for line in table.splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] == name:
            return fields
    raise InstructionError(f"--chown: no {what} named {name!r} in the image's {file}")


MAX_ID = 2**32 - 1  # uid_t and gid_t: Docker and the kernel refuse larger ids


def parse_chown(value: str, passwd: str | None = None, group: str | None = None) -> Owner:
    """`USER[:GROUP]`, each a number or a name. A lone numeric UID also sets the GID; a lone
    user name takes its primary group from /etc/passwd."""
    owner = _parse_chown(value, passwd, group)
    for number in (owner.uid, owner.gid):
        if number > MAX_ID:
            raise InstructionError(f"--chown={value}: {number} is beyond the largest id, {MAX_ID}")
    return owner


def _parse_chown(value: str, passwd: str | None, group: str | None) -> Owner:
    user, sep, group_name = value.partition(":")
    if not user or (sep and not group_name):
        raise InstructionError(f"--chown={value}: expected USER[:GROUP]")
    if user.isdigit():
        uid, primary_gid = int(user), int(user)
    else:
        fields = _lookup(passwd, user, "user", file="/etc/passwd")
        uid, primary_gid = int(fields[2]), int(fields[3])
    if not sep:
        return Owner(uid, primary_gid)
    if group_name.isdigit():
        return Owner(uid, int(group_name))
    return Owner(uid, int(_lookup(group, group_name, "group", file="/etc/group")[2]))


SYMBOLIC = re.compile(r"([ugoa]*)([-+=])([rwxXst]*)")
WHO_BITS = {"u": 0o4700, "g": 0o2070, "o": 0o1007}
PERMISSION_BITS = {"r": 0o444, "w": 0o222, "x": 0o111, "s": 0o6000, "t": 0o1000}


def parse_chmod(value: str) -> Callable[[int, bool], int]:
    """A function (mode, is_directory) -> new mode for `--chmod=755` or `--chmod=u+x,go-w`."""
    if re.fullmatch(r"[0-7]{1,4}", value):
        fixed = int(value, 8)
        return lambda mode, is_directory: fixed
    clauses = []
    for clause in value.split(","):
        match = SYMBOLIC.fullmatch(clause)
        if not match:
            raise InstructionError(
                f"invalid --chmod={value}: expected octal (755) or symbolic (u+x,go-w)"
            )
        clauses.append(match.groups())

    def apply(mode: int, is_directory: bool) -> int:
        for who, operator, permissions in clauses:
            scope = 0
            for person in who.replace("a", "ugo") or "ugo":
                scope |= WHO_BITS[person]
            bits = 0
            for permission in permissions:
                if permission == "X":
                    if is_directory or mode & 0o111:
                        bits |= 0o111
                else:
                    bits |= PERMISSION_BITS[permission]
            bits &= scope
            if operator == "+":
                mode |= bits
            elif operator == "-":
                mode &= ~bits
            else:
                mode = (mode & ~scope) | bits
        return mode

    return apply
