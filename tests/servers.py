"""Real servers for tests, on 127.0.0.1 only: Debian's docker-registry (distribution), open or
with htpasswd auth."""

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


def start_registry(root: Path, auth: bool):
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
