from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import servers  # noqa: E402
from engine import EngineUnavailable, find_or_start_engine  # noqa: E402


def _scratch(prefix: str) -> str:
    """A temporary directory for this test session, removed when it ends."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


# Hypothesis's own files (its example database) go to a temporary directory, not ./.hypothesis.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", _scratch("pybuild-hypothesis-"))
# The layer cache of every build in the tests lives in a fresh directory, not the user's.
os.environ["XDG_CACHE_HOME"] = _scratch("pybuild-test-cache-")

REPO = Path(__file__).resolve().parents[1]
# The samples are built from a copy: the web server sample's busybox is copied in by make, and
# a test run leaves the checkout as it found it.
SAMPLES = Path(_scratch("pybuild-test-samples-")) / "samples"
shutil.copytree(REPO / "samples", SAMPLES, ignore=shutil.ignore_patterns("busybox"))
if Path("/bin/busybox").exists():  # Debian's busybox-static; tests that need it say so
    shutil.copy2("/bin/busybox", SAMPLES / "webserver" / "busybox")
# Screenshots and other things worth a look after a run; outside the checkout unless asked.
ARTIFACTS = Path(os.environ.get("PYBUILD_TEST_ARTIFACTS") or _scratch("pybuild-artifacts-"))
# BuildKit's parser and shell fixtures and the tables made from upstream tests, vendored with
# their licence (tests/data/conformance/README.md says where each came from).
CONFORMANCE = Path(os.environ.get("PYBUILD_CONFORMANCE", REPO / "tests" / "data" / "conformance"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ from what pybuild produces now",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return request.config.getoption("--update-golden")


@pytest.fixture(scope="session")
def engine():
    """A real Docker Engine. Skips with the reason when none can be had, except under CI."""
    try:
        found = find_or_start_engine()
    except EngineUnavailable as error:
        if IN_CI:
            pytest.fail(f"CI needs a Docker Engine: {error}")
        pytest.skip(f"no Docker Engine: {error}")
    yield found
    found.cleanup()


@pytest.fixture(scope="session")
def conformance() -> Path:
    if not CONFORMANCE.is_dir():
        if IN_CI:
            pytest.fail(f"CI needs the conformance data at {CONFORMANCE}")
        pytest.skip(f"conformance data not found at {CONFORMANCE}")
    return CONFORMANCE


# Conformance tests record "name: passed/total" here; the summary prints them even when
# pytest captures output, so CI logs show the measured conformance.
CONFORMANCE_COUNTS: dict[str, str] = {}


def pytest_terminal_summary(terminalreporter) -> None:
    if CONFORMANCE_COUNTS:
        terminalreporter.section("conformance with tests/data/conformance")
        for name, count in CONFORMANCE_COUNTS.items():
            terminalreporter.write_line(f"{name}: {count}")


@pytest.fixture(scope="module")
def open_registry(tmp_path_factory):
    process, address = servers.start_registry(tmp_path_factory.mktemp("registry"), auth=False)
    yield address
    process.terminate()


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory):
    process, address = servers.start_registry(tmp_path_factory.mktemp("auth-registry"), auth=True)
    yield address
    process.terminate()


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory):
    """distribution with `auth: token:`, its tokens from the test's own JWT issuer."""
    root = tmp_path_factory.mktemp("token-registry")
    issuer = servers.TokenIssuer(root)
    process, address = servers.start_registry(root, auth=False, issuer=issuer)
    yield address, issuer
    process.terminate()
    issuer.close()


@pytest.fixture(scope="module")
def redirecting_registry(tmp_path_factory):
    """An htpasswd registry (alice/s3cret) whose blob downloads are redirected to a separate
    storage host, as Docker Hub and the other public registries do."""
    root = tmp_path_factory.mktemp("redirecting")
    (root / "data").mkdir()
    storage = servers.StorageHost(root / "data")
    process, address = servers.start_registry(root, auth=True, redirect_to=storage.url)
    yield address, storage
    process.terminate()
    storage.close()


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory):
    """An open registry over TLS with a CA made here, named servers.TLS_NAME (not loopback, so
    clients insist on TLS); yields (address, CA certificate)."""
    require_resolvable(servers.TLS_NAME)
    root = tmp_path_factory.mktemp("tls")
    ca, certificate, key = servers.make_certificates(root / "certs")
    process, address = servers.start_registry(root, auth=False, tls=(certificate, key))
    yield address.replace("127.0.0.1", servers.TLS_NAME), ca
    process.terminate()


def require_tool(name: str) -> str:
    """The path of a program the test needs; a skip without it, but a failure under CI."""
    import shutil

    found = shutil.which(name)
    if found is None:
        if IN_CI:
            pytest.fail(f"CI needs {name} (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return found


def require_resolvable(name: str) -> None:
    """A host name the test needs (.ci/run maps pbreg.test to 127.0.0.1)."""
    import socket

    try:
        socket.gethostbyname(name)
    except OSError:
        if IN_CI:
            pytest.fail(f"CI needs {name} in /etc/hosts (.ci/run adds it)")
        pytest.skip(f"{name} does not resolve (add '127.0.0.1 {name}' to /etc/hosts)")


@pytest.fixture
def registry_requests(monkeypatch) -> list[str]:
    """Every request a RegistryClient makes in this test, as 'METHOD target'."""
    from pybuild.oci.registry import RegistryClient

    requested: list[str] = []
    original = RegistryClient.request

    def counting(self, method, target, scope, *args, **kwargs):
        requested.append(f"{method} {target}")
        return original(self, method, target, scope, *args, **kwargs)

    monkeypatch.setattr(RegistryClient, "request", counting)
    return requested


# A Go binary with module dependencies, built once a session (the SBOM tests read it).
from gobuild import go_build  # noqa: E402, F401
