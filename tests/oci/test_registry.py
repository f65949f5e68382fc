"""Push with the distribution API to real registries on 127.0.0.1 (Debian's docker-registry),
open and with htpasswd auth; pull and run what was pushed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import SAMPLES
from images import push_sample
from pybuild import api
from pybuild.events import QUIET
from pybuild.oci import registry
from pybuild.oci.credentials import Credentials
from pybuild.oci.layout import blob_path
from pybuild.oci.model import LayerBlob
from pybuild.oci.reference import parse_reference
from pybuild.oci.registry import (
    PushingLayout,
    RegistryAccess,
    RegistryClient,
    RegistryError,
    push_layout,
)
from pybuild.oci.validate import validate_archive
from pybuild.outputs.spec import parse_output
from servers import free_port  # noqa: F401


def push(ref: str, *extra: str, sample: str = "greet") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pybuild", "--push", "-t", ref, *extra, str(SAMPLES / sample)],
        capture_output=True,
        text=True,
    )


def manifest(
    address: str, repository: str, tag: str, auth: str | None = None, *, scheme: str = "http"
) -> tuple[str, dict]:
    request = urllib.request.Request(
        f"{scheme}://{address}/v2/{repository}/manifests/{tag}",
        headers={
            "Accept": "application/vnd.oci.image.manifest.v1+json, "
            "application/vnd.docker.distribution.manifest.v2+json"
        },
    )
    import ssl

    unchecked = ssl.create_default_context()
    unchecked.check_hostname, unchecked.verify_mode = False, ssl.CERT_NONE
    with urllib.request.urlopen(request, timeout=10, context=unchecked) as response:
        return response.headers["Content-Type"], json.loads(response.read())


def test_push_prints_the_digest_and_skopeo_reads_it(open_registry):
    result = push(f"{open_registry}/demo/greet:1")
    assert result.returncode == 0, result.stderr
    line = [text for text in result.stderr.splitlines() if text.startswith("pushed ")][-1]
    digest = line.rsplit("@", 1)[1]
    media_type, document = manifest(open_registry, "demo/greet", "1")
    assert media_type == "application/vnd.oci.image.manifest.v1+json"
    assert all(layer["mediaType"].endswith("+gzip") for layer in document["layers"])
    skopeo = shutil.which("skopeo")
    if skopeo:
        seen = json.loads(
            subprocess.run(
                [skopeo, "inspect", "--tls-verify=false", f"docker://{open_registry}/demo/greet:1"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        assert seen["Digest"] == digest


def test_docker_schema2_media_types(open_registry):
    result = push(f"{open_registry}/demo/greet:schema2", "--no-cache")
    assert result.returncode == 0
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pybuild",
            "-o",
            f"type=registry,name={open_registry}/demo/greet:docker,oci-mediatypes=false",
            str(SAMPLES / "greet"),
        ],
        check=True,
        capture_output=True,
    )
    media_type, document = manifest(open_registry, "demo/greet", "docker")
    assert media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert document["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"


def test_auth_registry_needs_the_right_credentials(auth_registry):
    ref = f"{auth_registry}/private/greet:1"
    missing = push(ref)
    assert missing.returncode == 1 and auth_registry in missing.stderr and "401" in missing.stderr
    assert "Traceback" not in missing.stderr
    wrong = push(ref, "--creds", "alice:wrong")
    assert wrong.returncode == 1 and auth_registry in wrong.stderr and "401" in wrong.stderr
    good = push(ref, "--creds", "alice:s3cret")
    assert good.returncode == 0, good.stderr


def layout_of(tmp_path: Path, sample: str) -> Path:
    layout = tmp_path / "layout"
    api.build(
        api.BuildOptions(
            context=SAMPLES / sample,
            tags=("x:1",),
            output=parse_output(f"type=oci-dir,dest={layout}"),
        )
    )
    return layout


class CutOff(RegistryClient):
    """A client whose connection 'drops' after its first blob upload."""

    def upload_blob(self, *args, **kwargs):
        if getattr(self, "uploaded", 0) >= 1:
            raise RegistryError("connection dropped (simulated)")
        self.uploaded = getattr(self, "uploaded", 0) + 1
        super().upload_blob(*args, **kwargs)


def test_a_cut_off_push_run_again_sends_only_the_missing_blobs(open_registry, tmp_path):
    layout = layout_of(tmp_path, "webserver")
    ref = parse_reference(f"{open_registry}/demo/resume:1")
    with pytest.raises(RegistryError, match="dropped"):
        push_layout(layout, ref, CutOff(open_registry))
    second = RegistryClient(open_registry)
    push_layout(layout, ref, second)
    heads = [r for r in second.requests if r[0] == "HEAD"]
    uploads = [r for r in second.requests if r[0] == "POST"]
    assert len(heads) == 3  # two layers and the config are checked
    assert len(uploads) == 2  # one blob arrived before the cut: it is not sent again
    third = RegistryClient(open_registry)
    push_layout(layout, ref, third)
    assert [r[0] for r in third.requests] == ["HEAD", "HEAD", "HEAD", "PUT"]


def test_large_blobs_go_up_in_chunks(open_registry, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "MONOLITHIC_LIMIT", 1024)
    monkeypatch.setattr(registry, "CHUNK", 256 * 1024)
    layout = layout_of(tmp_path, "webserver")
    client = RegistryClient(open_registry)
    push_layout(layout, parse_reference(f"{open_registry}/demo/chunked:1"), client)
    assert sum(1 for r in client.requests if r[0] == "PATCH") > 2
    _, document = manifest(open_registry, "demo/chunked", "1")
    assert len(document["layers"]) == 2


def _made_slowly(data: bytes, *, uploading: RegistryClient):
    """A blob maker that writes half of `data`, waits until the registry has had a PATCH of
    it (the upload runs while the blob is made), then writes the rest."""

    def produce(out) -> LayerBlob:
        half = len(data) // 2
        for start in range(0, half, 64 << 10):
            out.write(data[start : min(start + (64 << 10), half)])
        deadline = time.monotonic() + 10
        while not any(method == "PATCH" for method, _, _ in uploading.requests):
            assert time.monotonic() < deadline, "nothing went up while the blob was made"
            time.sleep(0.01)
        out.write(data[half:])
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        return LayerBlob(digest, digest, len(data))

    return produce


def test_a_layer_goes_up_while_it_is_made(open_registry, tmp_path, monkeypatch):
    """PushingLayout sends a blob's bytes as they are written, in CHUNK pieces, and closes the
    upload under the digest known only at the end; the layout keeps the blob too."""
    monkeypatch.setattr(registry, "CHUNK", 256 << 10)
    data = os.urandom(3 << 20)
    client = RegistryClient(open_registry)
    layout = PushingLayout(tmp_path / "layout", client, "demo/streamed", reporter=QUIET)
    blob = layout.streamed_blob(_made_slowly(data, uploading=client))
    layout.close()
    assert (tmp_path / "layout" / blob_path(blob.digest)).read_bytes() == data
    assert sum(1 for method, _, _ in client.requests if method == "PATCH") == 12
    address = f"http://{open_registry}/v2/demo/streamed/blobs/{blob.digest}"
    with urllib.request.urlopen(address, timeout=10) as served:
        assert served.read() == data


def test_a_streamed_upload_refused_or_abandoned_ends_cleanly(auth_registry, tmp_path):
    """A registry that refuses the upload fails the push with its answer; a blob whose making
    fails is never closed under a digest. Neither leaves a thread behind."""
    import threading

    refused = PushingLayout(
        tmp_path / "a", RegistryClient(auth_registry), "demo/refused", reporter=QUIET
    )
    with pytest.raises(RegistryError, match="401"):
        refused.streamed_blob(lambda out: _written(out, os.urandom(20 << 20)))
        refused.close()

    client = RegistryClient(auth_registry, creds=Credentials("alice", "s3cret"))
    abandoned = PushingLayout(tmp_path / "b", client, "demo/abandoned", reporter=QUIET)

    def failing(out) -> LayerBlob:
        out.write(os.urandom(20 << 20))
        raise OSError("a source file vanished")

    with pytest.raises(OSError, match="vanished"):
        abandoned.streamed_blob(failing)
    abandoned.close()
    assert not [method for method, _, _ in client.requests if method == "PUT"]
    assert not [t for t in threading.enumerate() if t.name == "pybuild-upload"]


def _written(out, data: bytes) -> LayerBlob:
    out.write(data)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    return LayerBlob(digest, digest, len(data))


@pytest.mark.engine
def test_docker_pulls_and_runs_what_was_pushed(engine, open_registry):
    ref = f"{open_registry}/demo/hello:run"
    assert push(ref, sample="hello").returncode == 0
    engine.docker("pull", ref)
    engine.images.add(ref)
    assert engine.run(ref).stdout == b"Hello from a pybuild image!\n"


def test_second_repository_mounts_blobs_instead_of_sending_them(open_registry, tmp_path):
    layout = layout_of(tmp_path, "greet")
    push_layout(
        layout, parse_reference(f"{open_registry}/demo/first:1"), RegistryClient(open_registry)
    )
    client = RegistryClient(open_registry)
    push_layout(
        layout, parse_reference(f"{open_registry}/demo/second:1"), client, mount_from="demo/first"
    )
    posts = [path for method, path, status in client.requests if method == "POST"]
    assert posts and all("mount=" in path for path in posts)
    assert not [
        r for r in client.requests if r[0] in ("PATCH",) or (r[0] == "PUT" and "/blobs/" in r[1])
    ]


class FlakyRegistry:
    """A loopback server that asks for a Bearer token, issues it, and fails some requests once
    with 503 and 429 before answering, to exercise auth and retries."""

    def __init__(self):
        import http.server
        import threading

        self.seen: list[str] = []
        state = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body=b"", headers=()):
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                state.seen.append(f"GET {self.path}")
                if self.path.startswith("/token"):
                    assert "scope=repository" in self.path
                    self._send(200, json.dumps({"token": "t0k3n"}).encode())

            def do_HEAD(self):
                state.seen.append(f"HEAD {self.path} {self.headers.get('Authorization')}")
                if self.headers.get("Authorization") != "Bearer t0k3n":
                    port = self.server.server_address[1]
                    self._send(
                        401,
                        headers=[
                            (
                                "WWW-Authenticate",
                                f'Bearer realm="http://127.0.0.1:{port}/token",service="test"',
                            )
                        ],
                    )
                elif sum(1 for s in state.seen if s.startswith("HEAD")) == 2:
                    self._send(503)  # once
                elif sum(1 for s in state.seen if s.startswith("HEAD")) == 3:
                    self._send(429)  # once more
                else:
                    self._send(200)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"


def test_bearer_token_flow_and_retries_on_503_and_429():
    server = FlakyRegistry()
    try:
        client = RegistryClient(server.address, sleep=lambda seconds: None)
        assert client.has_blob("demo/x", "sha256:" + "0" * 64, "repository:demo/x:pull,push")
        assert [r[2] for r in client.requests] == [401, 503, 429, 200]
        assert any(seen.startswith("GET /token") for seen in server.seen)
        assert server.seen[-1].endswith("Bearer t0k3n")
    finally:
        server.server.shutdown()


@pytest.mark.engine
def test_docker_pulls_from_the_auth_registry_after_login(engine, auth_registry, tmp_path):
    ref = f"{auth_registry}/private/hello:1"
    assert push(ref, "--creds", "alice:s3cret", sample="hello").returncode == 0
    own_config = {"DOCKER_CONFIG": str(tmp_path / "docker-config")}  # not the user's login
    engine.docker(
        "login",
        "-u",
        "alice",
        "--password-stdin",
        auth_registry,
        input=b"s3cret",
        extra_env=own_config,
    )
    engine.docker("pull", ref, extra_env=own_config)
    engine.images.add(ref)
    assert engine.run(ref).stdout == b"Hello from a pybuild image!\n"


def test_a_killed_push_run_again_sends_only_what_is_missing(open_registry, tmp_path):
    import os
    import signal

    context = tmp_path / "big"
    context.mkdir()
    (context / "small.txt").write_text("first layer\n")
    with open(context / "big.bin", "wb") as big:
        big.write(os.urandom(150 << 20))  # incompressible: its upload takes a while
    (context / "Dockerfile").write_text(
        "FROM scratch\nCOPY small.txt /small.txt\nCOPY big.bin /big.bin\n"
    )
    ref = f"{open_registry}/demo/killed:1"
    command = [
        sys.executable,
        "-m",
        "pybuild",
        "--push",
        "--progress",
        "plain",
        "--cache-dir",
        str(tmp_path / "cache"),
        "-t",
        ref,
        str(context),
    ]
    # A layer goes up while it is made, before its digest is known; the layer cache is what
    # knows, on the second run, the digests of the layers the first one finished.
    first = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in first.stderr:  # wait until the first blob has arrived, then kill
        lines.append(line)
        if ": pushed (" in line:
            first.send_signal(signal.SIGKILL)
            break
    first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL, "".join(lines)
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    already = [text for text in again.stderr.splitlines() if ": already in " in text]
    sent = [text for text in again.stderr.splitlines() if ": pushed (" in text]
    # Blobs go up in parallel: whatever arrived before the kill is not sent again.
    arrived = {
        line.split(":")[0] + ":" + line.split(":")[1] for line in lines if ": pushed (" in line
    }
    assert arrived and arrived <= {line.split(": already")[0] for line in already}
    assert len(already) + len(sent) == 3 and sent


def test_the_metadata_file_names_what_the_registry_serves(open_registry, tmp_path):
    """--metadata-file and --iidfile give the next pipeline step the pushed digest to sign or
    deploy: the registry serves exactly that manifest under it."""
    metadata, iid = tmp_path / "metadata.json", tmp_path / "iid"
    ref = f"{open_registry}/demo/meta:1"
    result = push(ref, "--metadata-file", str(metadata), "--iidfile", str(iid))
    assert result.returncode == 0, result.stderr
    written = json.loads(metadata.read_text())
    assert (
        written["image.name"] == ref and written["containerimage.config.digest"] == iid.read_text()
    )
    digest = written["containerimage.digest"]
    _, by_digest = manifest(open_registry, "demo/meta", digest)
    _, by_tag = manifest(open_registry, "demo/meta", "1")
    assert by_digest == by_tag and by_tag["config"]["digest"] == iid.read_text()


def test_a_stalled_registry_ends_in_a_clear_error_not_a_hang(tmp_path):
    """A server that accepts connections and never answers: each try waits the idle timeout,
    retries stop at the overall limit, and the build fails with one line naming the registry."""
    import socket
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    address = f"127.0.0.1:{listener.getsockname()[1]}"
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {address}/pb/base:1\n")
    started = time.monotonic()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pybuild",
                "--no-cache",
                "-t",
                "s:1",
                "-o",
                str(tmp_path / "s.tar"),
                str(context),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYBUILD_REGISTRY_TIMEOUT": "1"},
        )
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()
    assert time.monotonic() - started < 60
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert address in result.stderr and "no answer within 1 s" in result.stderr
    assert not (tmp_path / "s.tar").exists()


def test_a_redirect_loop_ends_after_ten_hops():
    import http.server
    import threading

    class Loop(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", "again" if "again" not in self.path else self.path + "x")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Loop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = RegistryClient(f"127.0.0.1:{server.server_address[1]}")
        with pytest.raises(RegistryError, match="redirected more than 10 times"):
            client.request("GET", "/v2/x/blobs/sha256:0", "repository:x:pull")
    finally:
        server.shutdown()
        server.server_close()


def test_tls_registries_are_trusted_through_certs_d_and_refused_without(
    tls_registry, tmp_path, monkeypatch
):
    """A registry with a certificate from a CA of its own: refused, with the host and where to
    put its CA, until its CA sits in certs.d/HOST:PORT/ca.crt; then push and pull work."""
    from pybuild.errors import PybuildError
    from pybuild.oci import transport

    address, ca = tls_registry
    certs = tmp_path / "certs.d"
    monkeypatch.setattr(transport, "CERTS_DIRS", (certs, tmp_path / "containers-certs.d"))
    ref = f"{address}/demo/tls:1"
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f'FROM {ref}\nCMD ["tls"]\n')
    out = tmp_path / "out.tar"

    def pull():
        return api.build(
            api.BuildOptions(
                context=context, tags=("t:1",), cache_dir=None, output=parse_output(str(out))
            )
        )

    push = api.BuildOptions(
        context=SAMPLES / "hello", tags=(ref,), cache_dir=None, output=parse_output(None, push=True)
    )
    with pytest.raises(PybuildError, match="not trusted") as refused:
        api.build(push)
    message = str(refused.value)
    assert address in message and str(certs / address / "ca.crt") in message
    (certs / address).mkdir(parents=True)
    (certs / address / "ca.crt").write_bytes(ca.read_bytes())
    api.build(push)
    pull()
    assert validate_archive(out).config["config"]["Cmd"] == ["tls"]
    (certs / address / "ca.crt").unlink()
    out.unlink()
    with pytest.raises(PybuildError, match="not trusted"):
        pull()
    assert not out.exists()


class FakeRegistry:
    """A loopback server answering GETs from a table: path -> (status, headers, body); each
    entry may be a list, answered in turn. Its requests are kept in `seen`."""

    def __init__(self, routes):
        import http.server
        import threading

        self.seen: list[str] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.seen.append(self.path)
                answer = routes.get(self.path, (404, {}, b""))
                if isinstance(answer, list):
                    answer = answer.pop(0) if len(answer) > 1 else answer[0]
                status, headers, body = answer
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def serve_manifest(config: bytes, layer_digest: str, layer_size: int) -> bytes:
    from pybuild.oci.model import sha256_digest

    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256_digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest,
                    "size": layer_size,
                }
            ],
        }
    ).encode()


def test_registry_replies_are_held_to_their_limits(tmp_path):
    """A blob with more bytes than its descriptor says, and a manifest over 4 MiB, are clear
    errors (not read to the end); a 429's Retry-After is waited for."""
    from pybuild.oci.model import sha256_digest
    from pybuild.oci.platform import Platform
    from pybuild.oci.registry import pull_image

    config = b'{"rootfs":{"type":"layers","diff_ids":[]}}'
    layer = b"exactly these bytes and then some"
    routes = {
        "/v2/x/manifests/1": [
            (429, {"Retry-After": "1"}, b""),
            (200, {}, serve_manifest(config, sha256_digest(layer[:10]), 10)),
        ],
        f"/v2/x/blobs/{sha256_digest(config)}": (200, {}, config),
        f"/v2/x/blobs/{sha256_digest(layer[:10])}": (200, {}, layer),
        "/v2/big/manifests/1": (200, {}, b" " * (4 * 1048 * 1048 + 1)),
    }
    registry = FakeRegistry(routes)
    slept: list[float] = []

    class Access(RegistryAccess):
        def client(self, host, *, pushing=False, insecure=False):
            client = super().client(host, pushing=pushing, insecure=insecure)
            client.sleep = slept.append
            return client

    try:
        with pytest.raises(RegistryError, match="longer than the 10 bytes its descriptor says"):
            pull_image(
                f"{registry.address}/x:1", Platform("linux", "amd64"), tmp_path, access=Access()
            )
        assert slept == [1.0]
        with pytest.raises(RegistryError, match=f"is over {4 * 1048 * 1048} bytes"):
            pull_image(
                f"{registry.address}/big:1", Platform("linux", "amd64"), tmp_path, access=Access()
            )
    finally:
        registry.close()


class DrippingRegistry:
    """A blob server that sends half a blob at full speed, then a byte every 0.2 s (a slow
    drip) for as long as the client listens; `resumes` says whether it honours Range."""

    def __init__(self, blob: bytes, *, resumes: bool):
        import http.server
        import threading

        self.ranges: list[str | None] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                asked = self.headers.get("Range")
                fake.ranges.append(asked)
                if asked and resumes:
                    start = int(asked.removeprefix("bytes=").rstrip("-"))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(blob) - 1}/{len(blob)}")
                    self.send_header("Content-Length", str(len(blob) - start))
                    self.end_headers()
                    self.wfile.write(blob[start:])
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(blob)))
                self.end_headers()
                half = len(blob) // 2
                self.wfile.write(blob[:half])
                try:
                    for byte in blob[half:]:
                        time.sleep(0.2)
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                except OSError:
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("resumes", [True, False])
def test_a_slow_drip_is_cut_off_and_resumed_with_range(resumes, tmp_path, monkeypatch):
    """A server dripping bytes never trips an idle timeout; the minimum-throughput rule ends
    the transfer, which is resumed where it stopped (Range); a server that keeps dripping
    ends the pull with one clear line within the retry limit."""
    import io

    from pybuild.oci.model import sha256_digest
    from pybuild.oci.transport import Connections, Limits

    blob = os.urandom(64 << 10)
    server = DrippingRegistry(blob, resumes=resumes)
    limits = Limits(idle=1.0, connect=1.0, min_speed=4096, retry_for=4.0)
    client = RegistryClient(server.address, connections=Connections(limits), sleep=lambda s: None)
    digest = sha256_digest(blob)
    into = io.BytesIO()
    started = time.monotonic()
    try:
        if resumes:
            assert client.download_blob("x", digest, len(blob), into=into, scope="") == digest
            assert into.getvalue() == blob
            assert server.ranges[0] is None and server.ranges[1].startswith("bytes=")
        else:
            with pytest.raises(RegistryError, match="slower than 4096 bytes/s") as failed:
                client.download_blob("x", digest, len(blob), into=into, scope="")
            assert server.address in str(failed.value) and "tried" in str(failed.value)
            assert time.monotonic() - started < 15
    finally:
        client.connections.close()
        server.close()


def test_an_insecure_registry_is_tried_over_https_without_verification(tls_registry, tmp_path):
    """--insecure as Docker means it: HTTPS first, its certificate not checked, before any
    plain HTTP. This registry speaks only TLS and its CA is nowhere trusted, so the push goes
    through only that way."""
    address, _ = tls_registry
    ref = f"{address}/demo/insecure:1"
    push_sample(ref, RegistryAccess(insecure=True))
    _, document = manifest(address, "demo/insecure", "1", scheme="https")
    assert document["schemaVersion"] == 2


def test_a_malformed_location_or_a_cut_body_is_a_registry_error_not_a_traceback():
    """Redirects to other schemes, unparsable Locations and error bodies cut short end as one
    RegistryError naming the registry."""
    routes = {
        "/v2/x/blobs/ftp": (307, {"Location": "ftp://storage.test/blob"}, b""),
        "/v2/x/blobs/broken": (307, {"Location": "http://[::1/y"}, b""),
    }
    registry = FakeRegistry(routes)
    client = RegistryClient(registry.address, sleep=lambda seconds: None)
    try:
        for path in ("/v2/x/blobs/ftp", "/v2/x/blobs/broken"):
            with pytest.raises(RegistryError) as failed:
                client.request("GET", path, "repository:x:pull")
            assert registry.address in str(failed.value)
    finally:
        client.connections.close()
        registry.close()


def test_a_failed_transfer_stops_the_others_at_their_next_piece():
    import threading

    from pybuild.oci.registry import check, in_parallel

    stop = threading.Event()
    pieces: list[int] = []

    def work(item: int) -> int:
        if item == 0:
            raise RegistryError("first blob failed")
        for piece in range(1000):  # a long transfer, reporting each piece
            check(stop)
            pieces.append(piece)
            time.sleep(0.01)
        return item

    with pytest.raises(RegistryError, match="first blob failed"):
        in_parallel(work, [0, 1, 2], 3, stop=stop)
    assert stop.is_set() and len(pieces) < 200  # the others did not run to their end
