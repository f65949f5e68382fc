"""Registry credentials, found where Docker and Podman keep them, in Docker's order:

1. `$DOCKER_CONFIG/config.json` (default `~/.docker`): a `credHelpers` entry for the host runs
   `docker-credential-NAME get`; else an `auths` entry's `auth` (base64 `user:password`); else
   the default helper `credsStore`, as `docker login` with a store leaves it;
2. Podman's files: `$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`.

Keys may be URLs (`https://host/v1/`) and are compared by host; Docker Hub's names
(`docker.io`, `index.docker.io`, `registry-1.docker.io`) share its historical key
`https://index.docker.io/v1/`. Explicit credentials (`--creds`, `PYBUILD_REGISTRY_CREDS`) are
not looked up here: they go only to the registry being pushed to (registry.RegistryAccess).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PybuildError, first_line

DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")
DOCKER_HUB_KEY = "https://index.docker.io/v1/"
NOT_FOUND = "credentials not found"  # what docker-credential-* helpers say for an unknown host


class CredentialError(PybuildError):
    """A credential store or helper that could not be read."""


IDENTITY_TOKEN_USER = "<token>"  # how helpers mark a Secret that is an identity token


@dataclass(frozen=True)
class Credentials:
    """A login. An identity token (`docker login` against an OAuth2 registry keeps one instead
    of a password) is a refresh token: it is traded at the token service for access tokens and
    never sent to the registry itself."""

    username: str
    secret: str
    identity_token: str = ""


def _host(key: str) -> str:
    """A config key (`host`, `https://host/v1/`) as its host[:port]."""
    return key.split("://", 1)[-1].split("/", 1)[0]


def _same_registry(key: str, host: str) -> bool:
    found = _host(key)
    return found == host or (found in DOCKER_HUB and host in DOCKER_HUB)


def _server_name(host: str) -> str:
    """What a helper is asked for: Docker Hub by its historical key, others by host."""
    return DOCKER_HUB_KEY if host in DOCKER_HUB else host


def _read(path: Path) -> Mapping[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise CredentialError(f"cannot read credentials from {path}: {first_line(error)}") from None
    return data if isinstance(data, Mapping) else {}


def _from_auths(auths: Any, host: str, where: Path) -> Credentials | None:
    if not isinstance(auths, Mapping):
        return None
    for key, entry in auths.items():
        if not _same_registry(str(key), host) or not isinstance(entry, Mapping):
            continue
        identity = str(entry.get("identitytoken") or "")
        encoded = entry.get("auth")
        if identity and not encoded:
            return Credentials("", "", identity)
        if encoded:
            try:
                user, _, secret = base64.b64decode(str(encoded)).decode().partition(":")
            except ValueError:
                raise CredentialError(f"{where}: the auth for {key} is not base64") from None
            return Credentials(user, secret, identity)
    return None


def run_helper(name: str, host: str) -> Credentials | None:
    """`docker-credential-NAME get`, as Docker runs it: the server on stdin, JSON out."""
    program = f"docker-credential-{name}"
    try:
        result = subprocess.run(
            [program, "get"], input=_server_name(host), capture_output=True, text=True, timeout=60
        )
    except FileNotFoundError:
        raise CredentialError(f"the credential helper {program} is not on PATH") from None
    except (OSError, subprocess.TimeoutExpired) as error:
        raise CredentialError(f"{program} failed: {first_line(error)}") from None
    said = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        if NOT_FOUND in said.lower():
            return None
        raise CredentialError(
            f"{program} get failed for {host}: {said.splitlines()[0] if said else result.returncode}"
        )
    try:
        answer = json.loads(result.stdout)
        username, secret = str(answer["Username"]), str(answer["Secret"])
    except (ValueError, KeyError, TypeError):
        raise CredentialError(f"{program} gave no Username and Secret for {host}") from None
    if username == IDENTITY_TOKEN_USER:
        return Credentials("", "", secret)
    return Credentials(username, secret)


def docker_config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def find_credentials(host: str) -> Credentials | None:
    """The credentials Docker (then Podman) would use for `host`, or None for anonymous."""
    config_path = docker_config_dir() / "config.json"
    config = _read(config_path)
    helpers = config.get("credHelpers")
    if isinstance(helpers, Mapping):
        for key, helper in helpers.items():
            if _same_registry(str(key), host):
                return run_helper(str(helper), host)
    found = _from_auths(config.get("auths"), host, config_path)
    if found is not None:
        return found
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        found = run_helper(store, host)
        if found is not None:
            return found
    for podman in _podman_files():
        found = _from_auths(_read(podman).get("auths"), host, podman)
        if found is not None:
            return found
    return None


def _podman_files() -> list[Path]:
    if os.environ.get("REGISTRY_AUTH_FILE"):
        return [Path(os.environ["REGISTRY_AUTH_FILE"])]
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return [Path(runtime) / "containers" / "auth.json"] if runtime else []


def _helper_for(config: Mapping[str, Any], host: str) -> str | None:
    helpers = config.get("credHelpers")
    if isinstance(helpers, Mapping):
        for key, helper in helpers.items():
            if _same_registry(str(key), host):
                return str(helper)
    store = config.get("credsStore")
    return store if isinstance(store, str) and store else None


def _run_helper_action(name: str, action: str, payload: str) -> None:
    program = f"docker-credential-{name}"
    try:
        result = subprocess.run(
            [program, action], input=payload, capture_output=True, text=True, timeout=60
        )
    except FileNotFoundError:
        raise CredentialError(f"the credential helper {program} is not on PATH") from None
    except (OSError, subprocess.TimeoutExpired) as error:
        raise CredentialError(f"{program} failed: {first_line(error)}") from None
    said = (result.stdout + result.stderr).strip()
    if result.returncode != 0 and not (action == "erase" and NOT_FOUND in said.lower()):
        raise CredentialError(
            f"{program} {action} failed: {said.splitlines()[0] if said else result.returncode}"
        )


def _write_config(path: Path, config: Mapping[str, Any]) -> None:
    """config.json written whole and renamed into place, readable by its owner only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(config, handle, indent=2)
        handle.write("\n")
    os.replace(partial, path)


def store_credentials(host: str, credentials: Credentials) -> str:
    """Keep a login where Docker would: the host's helper or the credsStore, else config.json
    `auths`. Returns where it went, for the message."""
    path = docker_config_dir() / "config.json"
    config = dict(_read(path))
    helper = _helper_for(config, host)
    if helper is not None:
        payload = json.dumps(
            {
                "ServerURL": _server_name(host),
                "Username": credentials.username,
                "Secret": credentials.secret,
            }
        )
        _run_helper_action(helper, "store", payload)
        return f"docker-credential-{helper}"
    auths = {
        key: value
        for key, value in dict(config.get("auths") or {}).items()
        if not _same_registry(str(key), host)
    }
    pair = f"{credentials.username}:{credentials.secret}".encode()
    auths[_server_name(host)] = {"auth": base64.b64encode(pair).decode()}
    _write_config(path, {**config, "auths": auths})
    return str(path)


def erase_credentials(host: str) -> bool:
    """Forget the login for `host` (helper, then config.json); whether there was one to forget."""
    path = docker_config_dir() / "config.json"
    config = dict(_read(path))
    helper = _helper_for(config, host)
    if helper is not None:
        _run_helper_action(helper, "erase", _server_name(host))
    auths = dict(config.get("auths") or {})
    kept = {key: value for key, value in auths.items() if not _same_registry(str(key), host)}
    if kept != auths:
        _write_config(path, {**config, "auths": kept})
    return helper is not None or kept != auths
