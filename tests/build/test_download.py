"""ADD from URLs against a real HTTP server on 127.0.0.1: download, naming, mode, checksum,
no unpacking, and the errors for a missing file and an unreachable server."""

from __future__ import annotations

import hashlib
import http.server
import socket
import tarfile
import threading
from functools import partial

import pytest

from evaluation import evaluated
from pybuild.api import parse
from pybuild.build.context import BuildContext
from pybuild.build.timestamps import Timestamps
from pybuild.errors import InstructionError
from pybuild.oci.platform import Platform

PLATFORM = Platform("linux", "amd64")
PAYLOAD = b"downloaded bytes\n"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    (root / "file.txt").write_bytes(PAYLOAD)
    with tarfile.open(root / "bundle.tar.gz", "w:gz") as tar:
        tar.add(root / "file.txt", "inside.txt")
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(QuietHandler, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def build(tmp_path, text, epoch=None):
    timestamps = Timestamps(epoch, keep_file_times=True) if epoch else Timestamps()
    return evaluated(
        parse("FROM scratch\n" + text),
        BuildContext(tmp_path),
        PLATFORM,
        timestamps,
        scratch=tmp_path,
    )


def entries(spec):
    return {entry.path: entry for layer in spec.layers for entry in layer.entries}


def test_download_is_named_after_the_url_mode_0600_and_not_unpacked(server, tmp_path):
    spec = build(
        tmp_path,
        f"ADD {server}/file.txt {server}/bundle.tar.gz /dl/\nADD {server}/file.txt /renamed\n",
    )
    files = entries(spec)
    assert files["dl/file.txt"].mode == 0o600 and files["dl/file.txt"].size == len(PAYLOAD)
    assert files["dl/bundle.tar.gz"].kind == "file"  # downloads are never extracted
    assert "dl/inside.txt" not in files
    assert files["renamed"].source.read_bytes() == PAYLOAD


def test_mtime_comes_from_last_modified_clamped(server, tmp_path):
    spec = build(tmp_path, f"ADD {server}/file.txt /f\n", epoch=4_000_000_000)
    last_modified = entries(spec)["f"].mtime
    assert 1_600_000_000 < last_modified < 4_000_000_000


def test_checksum_is_verified(server, tmp_path):
    good = "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()
    build(tmp_path, f"ADD --checksum={good} {server}/file.txt /f\n")
    with pytest.raises(InstructionError, match="checksum mismatch") as caught:
        build(tmp_path, f"ADD --checksum=sha256:{'0' * 64} {server}/file.txt /f\n")
    assert caught.value.location.line == 2
    (tmp_path / "local").write_text("x")
    with pytest.raises(InstructionError, match="non-HTTP"):
        build(tmp_path, f"ADD --checksum={good} local /f\n")


def test_missing_file_and_unreachable_server_are_clear(server, tmp_path):
    with pytest.raises(InstructionError, match="answered 404"):
        build(tmp_path, f"ADD {server}/nothing /f\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(InstructionError, match=f"cannot reach 127.0.0.1:{closed_port}"):
        build(tmp_path, f"ADD http://127.0.0.1:{closed_port}/x /f\n")
