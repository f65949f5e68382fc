"""Proxies by Go's rules, as Docker reads the environment; and real traffic through tinyproxy,
whose log shows what went through it."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest

from conftest import SAMPLES, require_resolvable, require_tool
from pybuild import api
from pybuild.oci.proxy import bypasses, proxy_for
from pybuild.oci.registry import RegistryAccess
from pybuild.outputs.spec import parse_output
from servers import TLS_NAME, free_port


@pytest.mark.parametrize(
    ("host", "no_proxy", "bypassed"),
    [
        ("reg.example.com", "example.com", True),  # a domain covers its subdomains
        ("example.com", ".example.com", False),  # a leading dot: subdomains only
        ("a.example.com", ".example.com", True),
        ("notexample.com", "example.com", False),
        ("reg.test:5000", "reg.test:5000", True),
        ("reg.test:5001", "reg.test:5000", False),
        ("10.1.2.3:5000", "10.0.0.0/8", True),
        ("10.1.2.3", "10.1.2.4", False),
        ("[fd00::1]:5000", "fd00::/8", True),
        ("anything.test", " *", True),
        ("anything.test", "", False),
    ],
)
def test_no_proxy_follows_gos_rules(host, no_proxy, bypassed):
    assert bypasses(host, no_proxy) is bypassed


def test_which_proxy():
    env = {"HTTPS_PROXY": "http://user:pw@proxy.test:3128", "http_proxy": "proxy.test:8080"}
    assert proxy_for("https", "reg.test", env).netloc == "user:pw@proxy.test:3128"
    assert proxy_for("http", "reg.test", env).netloc == "proxy.test:8080"
    assert proxy_for("https", "localhost:5000", env) is None
    assert proxy_for("https", "127.0.0.1:5000", env) is None  # loopback is never proxied
    assert proxy_for("https", "reg.test", {**env, "NO_PROXY": "reg.test"}) is None
    assert proxy_for("https", "reg.test", {}) is None


@pytest.fixture
def tinyproxy(tmp_path):
    binary = require_tool("tinyproxy")
    port, log = free_port(), tmp_path / "tinyproxy.log"
    log.touch()
    log.chmod(0o666)
    (tmp_path / "tinyproxy.conf").write_text(
        f'Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile "{log}"\nLogLevel Connect\n'
        "MaxClients 20\nAllow 127.0.0.1\n"
    )
    process = subprocess.Popen(
        [binary, "-d", "-c", str(tmp_path / "tinyproxy.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", log
    process.terminate()


def test_registry_traffic_goes_through_the_proxy_unless_no_proxy_exempts_it(
    open_registry, tinyproxy, tmp_path, monkeypatch
):
    require_resolvable(TLS_NAME)
    proxy, log = tinyproxy
    registry = open_registry.replace("127.0.0.1", TLS_NAME)  # not loopback: it may be proxied
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    ref = f"{registry}/demo/proxied:1"
    api.build(
        api.BuildOptions(
            context=SAMPLES / "hello",
            tags=(ref,),
            cache_dir=None,
            registry=RegistryAccess(insecure=True),
            output=parse_output(None, push=True),
        )
    )
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {ref}\n")

    def pull() -> int:
        before = log.read_text().count(f"{registry}/v2/demo/proxied")
        api.build(
            api.BuildOptions(
                context=context,
                tags=("p:1",),
                cache_dir=None,
                registry=RegistryAccess(insecure=True),
                output=parse_output(str(tmp_path / "p.tar")),
            )
        )
        return log.read_text().count(f"{registry}/v2/demo/proxied") - before

    assert pull() >= 3  # the manifest and the blobs went through the proxy
    monkeypatch.setenv("NO_PROXY", f"{TLS_NAME}")
    assert pull() == 0
