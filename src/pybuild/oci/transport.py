"""HTTP for registries: pooled connections (httpx over httpcore), one pool per host and trust
setting for the whole build, each with the proxy (proxy.py) and TLS trust (`tls_context`)
Docker would use for that host, and the limits that keep a bad server from hanging a build:
a connect timeout, an idle-read timeout and a minimum throughput (a server dripping a byte a
second is as stalled as a silent one). Failures come out as `Unreachable`, which says whether
asking again could help, so the registry client decides retries in one place.

httpx and httpcore are imported only when a registry is first used: `parse` and `explain`
never pay for them."""

from __future__ import annotations

import functools
import os
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..errors import PybuildError, first_line
from .proxy import proxy_for

if TYPE_CHECKING:  # ssl, httpx and httpcore load when a registry is first used
    import ssl

    import httpcore
    import httpx

# Where Docker (then Podman) looks for a registry's CAs (*.crt) and client pairs (*.cert with
# *.key), in a folder named HOST[:PORT].
CERTS_DIRS = (Path("/etc/docker/certs.d"), Path("/etc/containers/certs.d"))


class TransportError(PybuildError):
    """A setting or certificate folder that cannot be used."""


class Unreachable(Exception):
    """A request that did not get through. `kind` says why: "timeout", "slow", "dns",
    "untrusted" (certificate verification), "tls" (no TLS spoken there), "url" (a malformed
    URL, often a server's Location) or "network"."""

    def __init__(self, why: str, kind: str):
        super().__init__(why)
        self.kind = kind

    @property
    def final(self) -> bool:
        """Whether asking again cannot help."""
        return self.kind in ("dns", "untrusted", "tls", "url")


def _seconds(variable: str, default: float, *, zero: bool = False) -> float:
    """A positive number from the environment (0 too when `zero`), else `default`."""
    text = os.environ.get(variable, "")
    try:
        value = float(text) if text else default
    except ValueError:
        raise TransportError(f"{variable}={text}: expected a number") from None
    if value < 0 or (value == 0 and not zero):
        raise TransportError(f"{variable}={text}: expected a positive number")
    return value


@dataclass(frozen=True)
class Limits:
    """How long a registry may take. All may be set from the environment:
    PYBUILD_REGISTRY_TIMEOUT (idle read, seconds), PYBUILD_REGISTRY_CONNECT_TIMEOUT,
    PYBUILD_REGISTRY_MIN_SPEED (bytes a second, averaged over the idle timeout; 0 turns the
    rule off), PYBUILD_REGISTRY_RETRY_FOR (how long retries may go on in all) and
    PYBUILD_REGISTRY_PARALLEL (blobs moved at once)."""

    idle: float = 30.0
    connect: float = 30.0
    min_speed: float = 1024.0
    retry_for: float = 120.0
    parallel: int = 4

    @classmethod
    def from_environment(cls) -> Limits:
        idle = _seconds("PYBUILD_REGISTRY_TIMEOUT", cls.idle)
        return cls(
            idle=idle,
            connect=_seconds("PYBUILD_REGISTRY_CONNECT_TIMEOUT", min(cls.connect, idle)),
            min_speed=_seconds("PYBUILD_REGISTRY_MIN_SPEED", cls.min_speed, zero=True),
            retry_for=_seconds("PYBUILD_REGISTRY_RETRY_FOR", cls.retry_for),
            parallel=max(1, int(_seconds("PYBUILD_REGISTRY_PARALLEL", cls.parallel))),
        )


def tls_context(host: str, *, verify: bool = True) -> ssl.SSLContext:
    """Verification as Docker does it: the system's CAs (and SSL_CERT_FILE), plus those in
    certs.d/HOST[:PORT]/, whose client certificate pairs are offered too. Without `verify`
    (an insecure registry) the certificate is not checked, but client pairs are still shown."""
    import ssl

    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    for base in CERTS_DIRS:
        folder = base / host
        if not folder.is_dir():
            continue
        try:
            for ca in sorted(folder.glob("*.crt")):
                context.load_verify_locations(cafile=str(ca))
            for certificate in sorted(folder.glob("*.cert")):
                context.load_cert_chain(str(certificate), str(certificate.with_suffix(".key")))
        except (OSError, ssl.SSLError) as error:
            raise TransportError(
                f"cannot use the certificates in {folder}: {first_line(error)}"
            ) from None
    return context


def untrusted(host: str, reason: str) -> str:
    """Why a registry's certificate was refused, and how to trust it."""
    return (
        f"registry {host}: its TLS certificate is not trusted ({reason}); to trust it, put its "
        f"CA in {CERTS_DIRS[0] / host}/ca.crt (or {CERTS_DIRS[1] / host}/)"
    )


class _Throttle:
    """A network stream that fails when a response arrives slower than `min_speed` bytes a
    second over `window` seconds of waiting for it. The count starts again with each request
    written, so an idle pooled connection is never judged."""

    def __init__(self, stream: Any, min_speed: float, window: float):
        self.stream, self.min_speed, self.window = stream, min_speed, window
        self.waited = 0.0
        self.received = 0

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        started = time.monotonic()
        data: bytes = self.stream.read(max_bytes, timeout)
        self.waited += time.monotonic() - started
        self.received += len(data)
        if self.min_speed and self.waited >= self.window:
            if self.received < self.min_speed * self.waited:
                import httpcore

                raise httpcore.ReadTimeout(
                    f"slower than {self.min_speed:g} bytes/s for {self.waited:.0f} s"
                )
            self.waited, self.received = 0.0, 0
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.waited, self.received = 0.0, 0
        self.stream.write(buffer, timeout)

    def close(self) -> None:
        self.stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> _Throttle:
        return _Throttle(
            self.stream.start_tls(ssl_context, server_hostname, timeout),
            self.min_speed,
            self.window,
        )

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


class _ThrottledBackend:
    """httpcore's own socket backend, its streams wrapped in `_Throttle`."""

    def __init__(self, limits: Limits):
        import httpcore

        self.backend = httpcore.SyncBackend()
        self.limits = limits

    def connect_tcp(self, host: str, port: int, **options: Any) -> _Throttle:
        stream = self.backend.connect_tcp(host, port, **options)
        return _Throttle(stream, self.limits.min_speed, self.limits.idle)

    def connect_unix_socket(self, path: str, **options: Any) -> _Throttle:
        stream = self.backend.connect_unix_socket(path, **options)
        return _Throttle(stream, self.limits.min_speed, self.limits.idle)

    def sleep(self, seconds: float) -> None:
        self.backend.sleep(seconds)


def _failure(error: BaseException, host: str, limits: Limits) -> Unreachable:
    """What an httpcore failure means for the registry client."""
    import ssl

    import httpcore

    cause = error.__cause__ or error.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return Unreachable(untrusted(host, cause.verify_message or first_line(cause)), "untrusted")
    if isinstance(cause, ssl.SSLError) and isinstance(error, httpcore.ConnectError):
        return Unreachable(f"no TLS at {host}: {first_line(cause)}", "tls")
    import socket

    if isinstance(cause, socket.gaierror):
        return Unreachable(first_line(cause), "dns")
    if isinstance(error, httpcore.ReadTimeout) and str(error).startswith("slower than"):
        return Unreachable(str(error), "slow")
    if isinstance(error, httpcore.ConnectTimeout):
        return Unreachable(f"no answer within {limits.connect:g} s", "timeout")
    if isinstance(error, httpcore.TimeoutException):
        return Unreachable(f"no answer within {limits.idle:g} s", "timeout")
    return Unreachable(first_line(error) or type(error).__name__, "network")


@functools.cache
def _transport_class() -> type:
    """An httpx transport over an httpcore pool with the throttled backend (httpx's own
    transport takes no network backend). Built on first use so httpx loads lazily."""
    import httpcore
    import httpx

    class Stream(httpx.SyncByteStream):
        def __init__(self, stream: Any, owner: Pool):
            self.stream, self.owner = stream, owner

        def __iter__(self) -> Iterator[bytes]:
            try:
                yield from self.stream
            except httpcore.TimeoutException as error:
                raise _failure(error, self.owner.host, self.owner.limits) from None
            except (httpcore.NetworkError, httpcore.ProtocolError) as error:
                raise _failure(error, self.owner.host, self.owner.limits) from None

        def close(self) -> None:
            self.stream.close()

    class Pool(httpx.BaseTransport):
        def __init__(self, host: str, pool: Any, limits: Limits):
            self.host, self.pool, self.limits = host, pool, limits

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            core = httpcore.Request(
                method=request.method,
                url=httpcore.URL(
                    scheme=request.url.raw_scheme,
                    host=request.url.raw_host,
                    port=request.url.port,
                    target=request.url.raw_path,
                ),
                headers=request.headers.raw,
                content=request.stream,
                extensions=request.extensions,
            )
            try:
                answer = self.pool.handle_request(core)
            except (
                httpcore.TimeoutException,
                httpcore.NetworkError,
                httpcore.ProtocolError,
                httpcore.ProxyError,
            ) as error:
                raise _failure(error, self.host, self.limits) from None
            return httpx.Response(
                status_code=answer.status,
                headers=answer.headers,
                stream=Stream(answer.stream, self),
                extensions=answer.extensions,
            )

        def close(self) -> None:
            self.pool.close()

    return Pool


@dataclass
class Connections:
    """The build's connection pools, one per (scheme, host, verification), shared by every
    registry client and by the threads that move blobs in parallel."""

    limits: Limits = field(default_factory=Limits.from_environment)
    _clients: dict[tuple[str, str, bool], httpx.Client] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, scheme: str, host: str, *, verify: bool = True) -> httpx.Client:
        key = (scheme, host, verify)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._open(scheme, host, verify)
            return self._clients[key]

    def _open(self, scheme: str, host: str, verify: bool) -> httpx.Client:
        import httpcore
        import httpx

        from .. import __version__

        context = tls_context(host, verify=verify) if scheme == "https" else None
        # Duck-typed: httpcore.NetworkBackend lives in httpcore, which loads lazily.
        backend = cast("httpcore.NetworkBackend", _ThrottledBackend(self.limits))
        size = self.limits.parallel + 2
        proxy = proxy_for(scheme, host)
        pool: Any
        if proxy is None:
            pool = httpcore.ConnectionPool(
                ssl_context=context, max_connections=size, network_backend=backend
            )
        else:
            login = None
            if proxy.username:
                unquote = urllib.parse.unquote
                login = (unquote(proxy.username), unquote(proxy.password or ""))
            pool = httpcore.HTTPProxy(
                proxy_url=f"{proxy.scheme}://{proxy.netloc.rpartition('@')[2]}",
                proxy_auth=login,
                ssl_context=context,
                max_connections=size,
                network_backend=backend,
            )
        limits = self.limits
        timeout = httpx.Timeout(limits.idle, connect=limits.connect, pool=limits.retry_for)
        return httpx.Client(
            transport=_transport_class()(host, pool, limits),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": f"pybuild/{__version__}", "Accept-Encoding": "identity"},
        )

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        content: bytes | Iterator[bytes] | None = None,
        verify: bool = True,
    ) -> httpx.Response:
        """Send one request to `url` (no redirects followed) and return the response with its
        body still to be read; the caller closes it."""
        import httpcore
        import httpx

        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Unreachable(f"{url[:200]!r} is not an http(s) URL", "url")
        try:
            client = self.client(parts.scheme, parts.netloc, verify=verify)
            request = client.build_request(method, url, headers=headers, content=content)
            return client.send(request, stream=True)
        except (httpx.HTTPError, httpx.InvalidURL, httpcore.UnsupportedProtocol) as error:
            # a malformed URL or Location from the server: asking again cannot help
            raise Unreachable(first_line(error) or type(error).__name__, "url") from None

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
