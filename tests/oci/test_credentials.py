"""Credentials are found where Docker and Podman keep them, in Docker's order, and explicit
ones (--creds) go only to the registry being pushed to."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SAMPLES
from pybuild.oci.credentials import CredentialError, Credentials, find_credentials
from pybuild.oci.registry import RegistryAccess


def helper(directory: Path, name: str, script: str) -> None:
    path = directory / f"docker-credential-{name}"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty DOCKER_CONFIG, no Podman files, and a bin directory first on PATH."""
    for name in ("REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "PYBUILD_REGISTRY_CREDS"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "docker").mkdir()
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    return tmp_path


def config(home: Path, document: dict) -> None:
    (home / "docker" / "config.json").write_text(json.dumps(document))


def auth(user: str, secret: str) -> dict:
    return {"auth": base64.b64encode(f"{user}:{secret}".encode()).decode()}


def test_auths_keys_may_be_urls_and_docker_hub_has_its_historical_key(home):
    config(
        home,
        {
            "auths": {
                "https://reg.test:5000/v1/": auth("a", "1"),
                "https://index.docker.io/v1/": auth("hub", "2"),
            }
        },
    )
    assert find_credentials("reg.test:5000") == Credentials("a", "1")
    assert (
        find_credentials("docker.io")
        == find_credentials("registry-1.docker.io")
        == Credentials("hub", "2")
    )
    assert find_credentials("other.test") is None


def test_helpers_come_first_then_auths_then_the_store(home):
    helper(
        home / "bin",
        "one",
        'read s; printf \'{"ServerURL":"%s","Username":"h","Secret":"x"}\' "$s"\n',
    )
    helper(
        home / "bin",
        "store",
        'read s; [ "$s" = "kept.test" ] && printf \'{"Username":"s","Secret":"y"}\' '
        '&& exit 0; echo "credentials not found in native keychain"; exit 1\n',
    )
    config(
        home,
        {
            "credHelpers": {"helped.test": "one"},
            "credsStore": "store",
            "auths": {"helped.test": auth("file", "no"), "filed.test": auth("file", "z")},
        },
    )
    assert find_credentials("helped.test") == Credentials("h", "x")
    assert find_credentials("filed.test") == Credentials("file", "z")
    assert find_credentials("kept.test") == Credentials("s", "y")
    assert find_credentials("unknown.test") is None  # the store says it has none


def test_podman_files_and_broken_stores(home, monkeypatch):
    podman = home / "auth.json"
    podman.write_text(json.dumps({"auths": {"pod.test": auth("p", "q")}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(podman))
    assert find_credentials("pod.test") == Credentials("p", "q")
    monkeypatch.delenv("REGISTRY_AUTH_FILE")
    (home / "run" / "containers").mkdir(parents=True)
    (home / "run" / "containers" / "auth.json").write_text(podman.read_text())
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "run"))
    assert find_credentials("pod.test") == Credentials("p", "q")
    config(home, {"credHelpers": {"x.test": "missing"}})
    with pytest.raises(CredentialError, match="docker-credential-missing is not on PATH"):
        find_credentials("x.test")
    helper(home / "bin", "broken", "echo 'keychain locked' >&2; exit 3\n")
    config(home, {"credHelpers": {"x.test": "broken"}})
    with pytest.raises(CredentialError, match="keychain locked"):
        find_credentials("x.test")
    config(home, {"auths": {"x.test": {"identitytoken": "t"}}})
    assert find_credentials("x.test") == Credentials("", "", identity_token="t")
    helper(home / "bin", "oauth", 'read s; printf \'{"Username":"<token>","Secret":"r3fresh"}\'\n')
    config(home, {"credHelpers": {"x.test": "oauth"}})
    assert find_credentials("x.test") == Credentials("", "", identity_token="r3fresh")


def test_explicit_credentials_go_only_to_the_registry_pushed_to(home):
    access = RegistryAccess(creds="alice:s3cret")
    assert access.client("base.test").creds is None  # a pull, e.g. of a base image
    assert access.client("push.test", pushing=True).creds == Credentials("alice", "s3cret")


def test_a_helper_logs_in_for_a_push_and_podmans_file_for_a_pull(auth_registry, home, monkeypatch):
    """The real htpasswd registry: a push whose password comes from a credential helper, then
    a build FROM the pushed image whose password comes from Podman's auth file."""
    helper(home / "bin", "pbtest", 'read s; printf \'{"Username":"alice","Secret":"s3cret"}\'\n')
    config(home, {"credHelpers": {auth_registry: "pbtest"}})
    ref = f"{auth_registry}/private/helped:1"
    env = {
        **os.environ,
        "PATH": f"{home / 'bin'}:/usr/bin:/bin:{Path(sys.executable).parent}",
    }
    pushed = subprocess.run(
        [sys.executable, "-m", "pybuild", "--push", "-t", ref, str(SAMPLES / "hello")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert pushed.returncode == 0, pushed.stderr
    config(home, {})
    (home / "auth.json").write_text(json.dumps({"auths": {auth_registry: auth("alice", "s3cret")}}))
    context = home / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {ref}\n")
    env["REGISTRY_AUTH_FILE"] = str(home / "auth.json")
    pulled = subprocess.run(
        [
            sys.executable,
            "-m",
            "pybuild",
            "--no-cache",
            "-t",
            "child:1",
            "-o",
            str(home / "child.tar"),
            str(context),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert pulled.returncode == 0, pulled.stderr


def pybuild(*args: str, env: dict, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pybuild", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
    )


def test_login_checks_and_keeps_a_login_and_logout_forgets_it(auth_registry, home):
    """Against the real htpasswd registry: a wrong password is refused and nothing kept; the
    right one is kept in config.json (owner-only), used by the next pull, and forgotten by
    logout; with a credsStore, login and logout go through the helper."""
    env = {**os.environ, "PATH": f"{home / 'bin'}:{os.environ['PATH']}"}
    wrong = pybuild(
        "login", auth_registry, "-u", "alice", "--password-stdin", env=env, stdin="nope\n"
    )
    assert wrong.returncode == 1 and f"login to {auth_registry} failed" in wrong.stderr
    assert not (home / "docker" / "config.json").exists()
    right = pybuild(
        "login", auth_registry, "-u", "alice", "--password-stdin", env=env, stdin="s3cret\n"
    )
    assert right.returncode == 0 and "Login Succeeded" in right.stdout, right.stderr
    kept = home / "docker" / "config.json"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert find_credentials(auth_registry) == Credentials("alice", "s3cret")
    ref = f"{auth_registry}/private/after-login:1"
    assert pybuild("--push", "-t", ref, str(SAMPLES / "hello"), env=env).returncode == 0
    context = home / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {ref}\n")
    pulled = pybuild("--no-cache", "-t", "a:1", "-o", str(home / "a.tar"), str(context), env=env)
    assert pulled.returncode == 0, pulled.stderr
    out = pybuild("logout", auth_registry, env=env)
    assert out.returncode == 0 and f"Removed login credentials for {auth_registry}" in out.stdout
    assert find_credentials(auth_registry) is None
    assert "Not logged in" in pybuild("logout", auth_registry, env=env).stdout
    # With a store configured, the helper keeps the login.
    store = home / "helper-store.json"
    helper(
        home / "bin",
        "filestore",
        f'case "$1" in store) cat > {store};; erase) rm -f {store};; get) exit 1;; esac\n',
    )
    config(home, {"credsStore": "filestore"})
    assert pybuild("login", auth_registry, "-u", "alice", "-p", "s3cret", env=env).returncode == 0
    assert json.loads(store.read_text()) == {
        "ServerURL": auth_registry,
        "Username": "alice",
        "Secret": "s3cret",
    }
    assert pybuild("logout", auth_registry, env=env).returncode == 0 and not store.exists()


def test_every_docker_hub_name_reaches_its_api_host(home):
    for name in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        assert RegistryAccess().client(name).registry == "registry-1.docker.io"
