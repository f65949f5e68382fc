"""Real servers for tests, on 127.0.0.1 only: Debian's docker-registry (distribution), open or
with htpasswd auth, or redirecting blob downloads to a separate storage host (as the public
registries send them to a CDN), and that storage host."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_registry(
    root: Path,
    auth: bool,
    redirect_to: str | None = None,
    *,
    tls: tuple[Path, Path] | None = None,
    mirror_of: str | None = None,
):
    from conftest import IN_CI  # conftest imports this module

    binary = shutil.which("docker-registry")
    if binary is None:
        if IN_CI:
            pytest.fail("CI needs docker-registry (.ci/run installs it)")
        pytest.skip("docker-registry is not installed")
    port = free_port()
    config = {
        "version": 0.1,
        "storage": {"filesystem": {"rootdirectory": str(root / "data")}},
        "http": {"addr": f"127.0.0.1:{port}"},
        "log": {"level": "error"},
    }
    if mirror_of is not None:  # a pull-through cache of the registry at that URL
        config["proxy"] = {"remoteurl": mirror_of}
    if tls is not None:  # (certificate, key): HTTPS only
        config["http"]["tls"] = {"certificate": str(tls[0]), "key": str(tls[1])}
    if redirect_to is not None:  # blob GETs answered with a redirect to redirect_to + path
        config["middleware"] = {
            "storage": [{"name": "redirect", "options": {"baseurl": redirect_to}}]
        }
    if auth:
        hashed = subprocess.run(
            ["htpasswd", "-Bbn", "alice", "s3cret"], capture_output=True, text=True, check=True
        ).stdout
        (root / "htpasswd").write_text(hashed)
        config["auth"] = {"htpasswd": {"realm": "pybuild-test", "path": str(root / "htpasswd")}}
    (root / "config.yml").write_text(json.dumps(config))  # YAML accepts JSON
    process = subprocess.Popen(
        [binary, "serve", str(root / "config.yml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            break
        except urllib.error.HTTPError:
            break  # 401 from the auth registry: it is up
        except OSError:
            time.sleep(0.05)
    return process, f"127.0.0.1:{port}"


class StorageHost:
    """A static file server for a registry's storage directory, standing in for the storage or
    CDN host public registries redirect blob downloads to. It records every request, and
    whether it carried an Authorization header (which must never reach it)."""

    def __init__(self, root: Path):
        import http.server
        import threading

        self.requests: list[tuple[str, bool]] = []  # (path, had Authorization)
        host = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def log_message(self, *args):
                pass

            def do_GET(self):
                host.requests.append((self.path, "Authorization" in self.headers))
                super().do_GET()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


TLS_NAME = "pbreg.test"  # .ci/run maps it to 127.0.0.1: a registry name that is not loopback


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA of the test's own and a server certificate it signed for TLS_NAME: (ca, cert, key)."""
    directory.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=pybuild test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        f"/CN={TLS_NAME}",
    )
    (directory / "extensions").write_text(f"subjectAltName=DNS:{TLS_NAME}\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "extensions",
    )
    return directory / "ca.crt", directory / "server.crt", directory / "server.key"
