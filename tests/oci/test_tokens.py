"""The Bearer token flow against distribution with `auth: token:` and the tests' own JWT issuer
(servers.TokenIssuer): tokens asked for once per scope and reused until they expire, a new
one before expiry without a 401 round trip, identity (refresh) tokens traded by POST, and an
anonymous pull refused for a private repository with one clear line."""

from __future__ import annotations

import json

import pytest

from images import push_sample
from pybuild import api
from pybuild.errors import PybuildError
from pybuild.oci.credentials import Credentials
from pybuild.oci.registry import RegistryAccess, RegistryClient
from pybuild.oci.validate import validate_archive
from pybuild.outputs.spec import parse_output


def build_from(base: str, tmp_path, name: str) -> api.BuildResult:
    context = tmp_path / name
    context.mkdir()
    (context / "Dockerfile").write_text(f'FROM {base}\nCMD ["{name}"]\n')
    return api.build(
        api.BuildOptions(
            context=context,
            tags=(f"{name}:1",),
            cache_dir=None,
            output=parse_output(str(tmp_path / f"{name}.tar")),
        )
    )


def push_hello(ref: str, creds: str) -> None:
    push_sample(ref, RegistryAccess(creds=creds))


def test_a_push_asks_for_one_token_and_reuses_it(token_registry):
    address, issuer = token_registry
    issuer.seen.clear()
    push_hello(f"{address}/private/hello:1", "alice:s3cret")
    scopes = [scope for _, _, scope in issuer.seen]
    # Every HEAD, POST, PUT and the manifest went with the one token for the push's scope.
    assert scopes == ["repository:private/hello:pull,push"], issuer.seen


def test_pulls_anonymous_with_a_login_and_with_an_identity_token(
    token_registry, tmp_path, monkeypatch
):
    address, issuer = token_registry
    push_hello(f"{address}/private/hello:2", "alice:s3cret")
    push_hello(f"{address}/public/hello:2", "alice:s3cret")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))

    build_from(f"{address}/public/hello:2", tmp_path, "anonymous")  # an anonymous token
    with pytest.raises(PybuildError) as refused:
        build_from(f"{address}/private/hello:2", tmp_path, "refused")
    message = str(refused.value).splitlines()[0]  # then the FROM line, marked
    assert address in message and "401" in message and "docker login" in message, message
    assert not (tmp_path / "refused.tar").exists()

    (tmp_path / "docker").mkdir()
    config = tmp_path / "docker" / "config.json"
    config.write_text(json.dumps({"auths": {address: {"identitytoken": issuer.IDENTITY}}}))
    issuer.seen.clear()
    build_from(f"{address}/private/hello:2", tmp_path, "identity")
    assert issuer.seen == [("POST", "refresh_token", "repository:private/hello:pull")]
    assert validate_archive(tmp_path / "identity.tar").config["config"]["Cmd"] == ["identity"]


def test_an_expired_token_is_replaced_before_it_is_refused(token_registry):
    address, issuer = token_registry
    push_hello(f"{address}/private/hello:3", "alice:s3cret")
    now = [0.0]
    client = RegistryClient(address, Credentials("alice", "s3cret"), clock=lambda: now[0])
    scope = "repository:private/hello:pull"
    missing = "sha256:" + "0" * 64
    issuer.seen.clear()
    assert not client.has_blob("private/hello", missing, scope)
    assert not client.has_blob("private/hello", missing, scope)
    assert len(issuer.seen) == 1  # reused while it is good
    now[0] += issuer.lifetime  # the token has expired: a new one is fetched first
    assert not client.has_blob("private/hello", missing, scope)
    assert len(issuer.seen) == 2
    statuses = [status for method, _, status in client.requests if method == "HEAD"]
    assert statuses == [401, 404, 404, 404]  # one challenge, at the start only
    client.connections.close()
