"""Pushing to and pulling from a registry with the distribution (OCI) HTTP API v2.

Each blob is checked with HEAD and skipped when the registry has it (so a push that was cut
off and is run again sends only what is missing); small blobs go up in one PUT, large ones in
chunked PATCHes closed by a PUT; the manifest goes last. Auth: anonymous, Basic, or the Bearer
token flow driven by the WWW-Authenticate challenge; credentials from --creds, the
PYBUILD_REGISTRY_CREDS environment variable, or $DOCKER_CONFIG/config.json `auths`. Plain HTTP
for loopback registries (and with --insecure); HTTPS otherwise. 5xx, 429 and dropped
connections are retried with backoff, a bounded number of times. A pull verifies every
manifest, config and layer against its digest."""

from __future__ import annotations

import base64
import os
import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ..errors import PybuildError, first_line
from ..events import QUIET, Reporter
from .blobstore import NO_CACHE, BlobStore, InvalidBlob
from .credentials import DOCKER_HUB, find_credentials
from .layout import BLOBS, blob_path  # the API's blob routes share the layout's folder name
from .mirrors import Endpoint, endpoints, read_rules
from .model import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    ImageConfig,
    Index,
    InvalidDocument,
    Manifest,
    json_object,
    sha256_digest,
)
from .platform import Platform
from .proxy import proxy_for
from .reference import Reference, parse_reference

if TYPE_CHECKING:  # http.client brings ssl and socket: loaded only when a registry is used
    import http.client
    import ssl

MONOLITHIC_LIMIT = 16 << 20  # blobs up to this size go up in one PUT
CHUNK = 8 << 20
RETRIES = 5
REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 10
DOCKER_HUB_API = "registry-1.docker.io"  # where docker.io and index.docker.io are served
MANIFEST_LIMIT = 4 * 1048 * 1048  # containerd's limit for a manifest or index (sic: 1048)
MANIFEST_ACCEPT = ", ".join(INDEX_TYPES + MANIFEST_TYPES)


class RegistryError(PybuildError):
    """A push that did not go through; the message names the registry."""


def explicit_credentials(creds: str | None) -> tuple[str, str] | None:
    """--creds, else PYBUILD_REGISTRY_CREDS: USER:PASSWORD."""
    text = creds or os.environ.get("PYBUILD_REGISTRY_CREDS")
    if not text:
        return None
    user, sep, password = text.partition(":")
    if not sep:
        raise RegistryError("--creds must be USER:PASSWORD")
    return user, password


@dataclass(frozen=True)
class RegistryAccess:
    """How to reach registries: explicit credentials for the registry pushed to, the stores
    Docker and Podman use for every registry (credentials.py), and whether plain HTTP is
    allowed off loopback."""

    creds: str | None = None  # USER:PASSWORD, for pushing only: never sent to another host
    insecure: bool = False
    mirrors: tuple[str, ...] = ()  # --registry-mirror: hosts tried first for Docker Hub names
    pull: str = "missing"  # --pull: missing (use what is stored), always or never (offline)

    def client(self, host: str, *, pushing: bool = False, insecure: bool = False) -> RegistryClient:
        """A client for `host`; Docker Hub's name `docker.io` is served by another host."""
        api_host = DOCKER_HUB_API if host in DOCKER_HUB else host
        found = explicit_credentials(self.creds) if pushing else None
        if found is None:
            stored = find_credentials(host)
            found = (stored.username, stored.secret) if stored is not None else None
        return RegistryClient(api_host, found, self.insecure or insecure)

    def endpoints(self, ref: Reference) -> list[Endpoint]:
        """Where to pull `ref` from, in order (mirrors.py)."""
        return endpoints(ref, read_rules(), self.mirrors)


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0].strip("[]")
    return name in ("localhost", "::1") or name.startswith("127.")


@dataclass
class RegistryClient:
    registry: str  # host[:port]
    creds: tuple[str, str] | None = None
    insecure: bool = False
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # method, path, status
    sleep: Callable[[float], None] = time.sleep
    # How long a silent connection is waited for, and how long retries may go on in all: a
    # stalled registry ends in an error, never a hang (PYBUILD_REGISTRY_TIMEOUT, seconds).
    timeout: float = field(default_factory=lambda: _seconds("PYBUILD_REGISTRY_TIMEOUT", 30.0))
    retry_for: float = 120.0
    _authorization: dict[str, str] = field(default_factory=dict)  # scope -> header

    @property
    def scheme(self) -> str:
        return "http" if self.insecure or is_loopback(self.registry) else "https"

    def _send(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        body: BinaryIO | bytes | None = None,
        scheme: str | None = None,
        host: str | None = None,
    ) -> http.client.HTTPResponse:
        """Send one request to the registry, or to `host` by `scheme` (a redirect's target or
        the token service), through the proxy the environment names for it (proxy.py): a
        proxied plain-HTTP request names the whole URL, HTTPS goes through a CONNECT tunnel."""
        import http.client

        scheme, host = scheme or self.scheme, host or self.registry
        proxy = proxy_for(scheme, host)
        login: dict[str, str] = {}
        if proxy is not None and proxy.username:
            pair = f"{urllib.parse.unquote(proxy.username)}:{urllib.parse.unquote(proxy.password or '')}"
            login = {"Proxy-Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
        through = proxy.netloc.rpartition("@")[2] if proxy is not None else host
        connection: http.client.HTTPConnection
        if scheme == "http":
            connection = http.client.HTTPConnection(through, timeout=self.timeout)
            if proxy is not None:
                path, headers = f"http://{host}{path}", {**headers, **login}
        else:
            context = tls_context(host)
            connection = http.client.HTTPSConnection(through, timeout=self.timeout, context=context)
            if proxy is not None:
                connection.set_tunnel(host, headers=login)
        connection.request(method, path, body=body, headers=headers)
        return connection.getresponse()

    def _follow(
        self, response: http.client.HTTPResponse, method: str, path: str, *, sent: dict[str, str]
    ) -> http.client.HTTPResponse:
        """Follow redirects of a GET or HEAD, as Docker's client does: to a relative Location or
        another host (a storage or CDN URL, often signed), where the registry's Authorization is
        never sent; at most MAX_REDIRECTS hops."""
        url = f"{self.scheme}://{self.registry}{path}"
        for _ in range(MAX_REDIRECTS):
            if response.status not in REDIRECTS or method not in ("GET", "HEAD"):
                return response
            location = response.getheader("Location")
            response.read()
            if not location:
                raise RegistryError(
                    f"registry {self.registry}: {method} {path.split('?')[0]} "
                    f"answered {response.status} without a Location"
                )
            url = urllib.parse.urljoin(url, location)
            target = urllib.parse.urlsplit(url)
            headers = dict(sent)
            if target.netloc != self.registry:
                headers.pop("Authorization", None)  # the storage host must never see it
            response = self._send(
                method,
                target.path + (f"?{target.query}" if target.query else ""),
                headers=headers,
                scheme=target.scheme,
                host=target.netloc,
            )
            if method == "HEAD":
                response.read()
            self.requests.append((method, url, response.status))
        raise RegistryError(
            f"registry {self.registry}: {method} {path.split('?')[0]} was "
            f"redirected more than {MAX_REDIRECTS} times"
        )

    def request(
        self,
        method: str,
        target: str,
        scope: str,
        *,
        headers: dict[str, str] | None = None,
        body: Callable[[], BinaryIO | bytes] | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> http.client.HTTPResponse:
        """One request, with auth negotiated on a 401 and retries on 5xx, 429 and broken
        connections. `body` is a callable so a retry can start the body again."""
        import socket  # with http.client, only once a registry is used
        import ssl

        url = urllib.parse.urlsplit(target)
        path = (url.path + ("?" + url.query if url.query else "")) if url.scheme else target
        started = time.monotonic()
        for attempt in range(RETRIES):
            sent = dict(headers or {})
            if scope in self._authorization:
                sent["Authorization"] = self._authorization[scope]
            try:
                payload = body() if body is not None else None
                response = self._send(method, path, headers=sent, body=payload)
                response.read() if method == "HEAD" else None
                response = self._follow(response, method, path, sent=sent)
            except ssl.SSLCertVerificationError as error:
                raise RegistryError(untrusted(self.registry, error)) from None
            except OSError as error:
                spent = time.monotonic() - started
                final = isinstance(error, socket.gaierror)  # no such host: asking again won't help
                if final or attempt == RETRIES - 1 or spent + self.timeout > self.retry_for:
                    silent = isinstance(error, TimeoutError)
                    why = f"no answer within {self.timeout:g} s" if silent else first_line(error)
                    raise RegistryError(
                        f"cannot reach registry {self.registry} ({method} {path.split('?')[0]}): "
                        f"{why}"
                        + (f"; tried {attempt + 1} times over {spent:.0f} s" if attempt else "")
                    ) from None
                self.sleep(0.2 * 2**attempt)
                continue
            self.requests.append((method, path, response.status))
            if response.status == 401 and scope not in self._authorization:
                self._authenticate(response.getheader("WWW-Authenticate") or "", scope)
                response.read()
                continue
            wait = _retry_after(response.getheader("Retry-After"), 0.2 * 2**attempt)
            spent = time.monotonic() - started
            if (
                response.status in (429, 500, 502, 503, 504)
                and attempt < RETRIES - 1
                and spent + wait <= self.retry_for
            ):
                response.read()
                self.sleep(wait)
                continue
            if response.status not in expect:
                detail = response.read().decode(errors="replace").strip()[:300]
                raise RegistryError(
                    f"registry {self.registry}: {method} {path.split('?')[0]} "
                    f"answered {response.status} {response.reason}"
                    + (f": {detail}" if detail else "")
                    + (
                        " (check --creds, PYBUILD_REGISTRY_CREDS or docker login)"
                        if response.status in (401, 403)
                        else ""
                    )
                )
            return response
        raise RegistryError(f"registry {self.registry}: {method} {path} kept failing")

    def _authenticate(self, challenge: str, scope: str) -> None:
        kind, _, params = challenge.partition(" ")
        if kind.lower() == "basic":
            if self.creds is None:
                raise RegistryError(
                    f"registry {self.registry} answered 401 Unauthorized: it needs "
                    "credentials (--creds USER:PASSWORD, PYBUILD_REGISTRY_CREDS or docker login)"
                )
            token = base64.b64encode(":".join(self.creds).encode()).decode()
            self._authorization[scope] = f"Basic {token}"
            return
        if kind.lower() != "bearer":
            raise RegistryError(
                f"registry {self.registry} asks for {kind or 'unknown'} auth, "
                "which pybuild does not speak"
            )
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        realm = urllib.parse.urlsplit(fields.get("realm", ""))
        query = urllib.parse.urlencode({"service": fields.get("service", ""), "scope": scope})
        headers = {}
        if self.creds is not None:
            headers["Authorization"] = (
                "Basic " + base64.b64encode(":".join(self.creds).encode()).decode()
            )
        import ssl

        try:
            answer = self._send(
                "GET",
                f"{realm.path}?{query}",
                headers=headers,
                scheme=realm.scheme,
                host=realm.netloc,
            )
            data = answer.read()
        except ssl.SSLCertVerificationError as error:
            raise RegistryError(untrusted(realm.netloc, error)) from None
        except OSError as error:
            raise RegistryError(
                f"cannot reach the token service of {self.registry}: {error}"
            ) from None
        if answer.status != 200:
            raise RegistryError(
                f"registry {self.registry}: the token service answered "
                f"{answer.status} {answer.reason} (check --creds or docker login)"
            )
        try:
            answer_json = json_object(data, "the token service's answer")
        except InvalidDocument as error:
            raise RegistryError(f"registry {self.registry}: {error}") from None
        bearer = answer_json.get("token") or answer_json.get("access_token")
        if not isinstance(bearer, str) or not bearer:
            raise RegistryError(f"registry {self.registry}: the token service gave no token")
        self._authorization[scope] = f"Bearer {bearer}"

    # --- the push itself -------------------------------------------------------------------

    def has_blob(self, repository: str, digest: str, scope: str) -> bool:
        response = self.request(
            "HEAD", f"/v2/{repository}/{BLOBS}/{digest}", scope, expect=(200, 404)
        )
        return response.status == 200

    def mount_blob(self, repository: str, digest: str, source: str, *, scope: str) -> bool:
        """Cross-repository mount: the registry links a blob it holds for `source`."""
        answer = self.request(
            "POST",
            f"/v2/{repository}/{BLOBS}/uploads/?mount={urllib.parse.quote(digest)}"
            f"&from={urllib.parse.quote(source)}",
            scope,
            expect=(201, 202),
        )
        answer.read()
        return answer.status == 201

    def upload_blob(
        self, repository: str, digest: str, size: int, *, path: Path, scope: str
    ) -> None:
        start = self.request("POST", f"/v2/{repository}/{BLOBS}/uploads/", scope, expect=(202,))
        location = self._absolute(start.getheader("Location"))
        start.read()
        if size <= MONOLITHIC_LIMIT:
            self.request(
                "PUT",
                _with_digest(location, digest),
                scope,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                body=lambda: open(path, "rb"),
                expect=(201,),
            ).read()
            return
        offset = 0
        with open(path, "rb") as blob:
            while offset < size:
                blob.seek(offset)
                chunk = blob.read(CHUNK)
                end = offset + len(chunk) - 1
                answer = self.request(
                    "PATCH",
                    location,
                    scope,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{offset}-{end}",
                        "Content-Length": str(len(chunk)),
                    },
                    body=_constant(chunk),
                    expect=(202,),
                )
                location = self._absolute(answer.getheader("Location") or location)
                answer.read()
                offset = end + 1
        self.request(
            "PUT",
            _with_digest(location, digest),
            scope,
            headers={"Content-Length": "0"},
            expect=(201,),
        ).read()

    def put_manifest(
        self, repository: str, tag: str, manifest: bytes, *, media_type: str, scope: str
    ) -> str:
        answer = self.request(
            "PUT",
            f"/v2/{repository}/manifests/{tag}",
            scope,
            headers={"Content-Type": media_type, "Content-Length": str(len(manifest))},
            body=lambda: manifest,
            expect=(201,),
        )
        answer.read()
        return answer.getheader("Docker-Content-Digest") or ""

    def _absolute(self, location: str | None) -> str:
        if not location:
            raise RegistryError(f"registry {self.registry} gave no upload location")
        return urllib.parse.urljoin(f"{self.scheme}://{self.registry}/", location)


# Where Docker (then Podman) looks for a registry's CAs (*.crt) and client pairs (*.cert with
# *.key), in a folder named HOST[:PORT].
CERTS_DIRS = (Path("/etc/docker/certs.d"), Path("/etc/containers/certs.d"))


def tls_context(host: str) -> ssl.SSLContext:
    """Verification as Docker does it: the system's CAs (and SSL_CERT_FILE), plus those in
    certs.d/HOST[:PORT]/, whose client certificate pairs are offered too."""
    import ssl

    context = ssl.create_default_context()
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
            raise RegistryError(
                f"cannot use the certificates in {folder}: {first_line(error)}"
            ) from None
    return context


def untrusted(host: str, error: ssl.SSLCertVerificationError) -> str:
    """Why a registry's certificate was refused, and how to trust it."""
    reason = error.verify_message or first_line(error)
    return (
        f"registry {host}: its TLS certificate is not trusted ({reason}); to trust it, put its "
        f"CA in {CERTS_DIRS[0] / host}/ca.crt (or {CERTS_DIRS[1] / host}/)"
    )


def _seconds(variable: str, default: float) -> float:
    """A positive number of seconds from the environment, else `default`."""
    text = os.environ.get(variable, "")
    try:
        value = float(text) if text else default
    except ValueError:
        raise RegistryError(f"{variable}={text}: expected seconds") from None
    if value <= 0:
        raise RegistryError(f"{variable}={text}: expected a positive number of seconds")
    return value


def _retry_after(header: str | None, backoff: float) -> float:
    """How long to wait before a retry: the server's Retry-After (seconds) when it says,
    else the backoff."""
    try:
        return max(backoff, float(header)) if header else backoff
    except ValueError:  # an HTTP date: rare from registries; the backoff will do
        return backoff


def _constant(data: bytes) -> Callable[[], bytes]:
    """A request body that gives the same bytes on every try."""
    return lambda: data


def _with_digest(location: str, digest: str) -> str:
    separator = "&" if "?" in location else "?"
    return f"{location}{separator}digest={urllib.parse.quote(digest)}"


def push_layout(
    layout: Path,
    ref: Reference,
    client: RegistryClient,
    *,
    oci_media_types: bool = True,
    reporter: Reporter = QUIET,
    mount_from: str | None = None,
) -> str:
    """Push the image in an OCI layout directory to `ref`; return the manifest digest. With
    `mount_from` (a repository of the same registry that has the blobs), missing blobs are
    mounted from it instead of sent again."""
    repository = ref.path
    scope = f"repository:{repository}:pull,push"
    if mount_from:
        scope += f" repository:{mount_from}:pull"
    index = Index.from_json((layout / "index.json").read_bytes())
    manifest_bytes = (layout / blob_path(index.manifests[0].digest)).read_bytes()
    manifest = Manifest.from_json(manifest_bytes)
    for descriptor in [*manifest.layers, manifest.config]:
        digest, size = descriptor.digest, descriptor.size
        if client.has_blob(repository, digest, scope):
            reporter.note(f"{digest}: already in {client.registry}")
            continue
        if mount_from and client.mount_blob(repository, digest, mount_from, scope=scope):
            reporter.note(f"{digest}: mounted from {mount_from}")
            continue
        client.upload_blob(repository, digest, size, path=layout / blob_path(digest), scope=scope)
        reporter.note(f"{digest}: pushed ({size} bytes)")
    if not oci_media_types:
        manifest = manifest.with_docker_media_types()
        manifest_bytes = manifest.to_json()
    client.put_manifest(
        repository, ref.tag, manifest_bytes, media_type=manifest.media_type, scope=scope
    )
    return sha256_digest(manifest_bytes)


@dataclass(frozen=True)
class PulledImage:
    """An image fetched from a registry: its config and its layer blobs on disk, in order."""

    config: ImageConfig
    blobs: tuple[Path, ...]
    manifest_digest: str = ""


def _stored_image(digest: str, platform: Platform, store: BlobStore) -> PulledImage | None:
    """The image whose manifest (or index) has `digest`, when the store holds all of it."""
    path = store.verified_blob(digest)
    if path is None:
        return None
    try:
        document = json_object(path.read_bytes(), "a stored manifest")
        if Index.is_index(document):
            digest = Index.from_json(document).for_platform(platform, digest).digest
            path = store.verified_blob(digest)
            if path is None:
                return None
            document = json_object(path.read_bytes(), "a stored manifest")
        manifest = Manifest.from_json(document)
    except InvalidDocument:
        return None
    blobs = [store.verified_blob(item.digest) for item in (manifest.config, *manifest.layers)]
    if any(blob is None for blob in blobs):
        return None
    config, *layers = blobs
    assert config is not None
    return PulledImage(ImageConfig.from_json(config.read_bytes()), tuple(layers), digest)  # type: ignore[arg-type]


def pull_image(
    reference_text: str,
    platform: Platform,
    scratch: Path,
    *,
    access: RegistryAccess,
    store: BlobStore = NO_CACHE,
    reporter: Reporter = QUIET,
) -> PulledImage:
    """Pull `host/repo:tag` or `host/repo@sha256:...` (the platform chosen from an index) into
    `scratch`, verifying every digest. Blobs the store holds already are not asked for again;
    fetched ones are kept there for the next build. With `access.pull` "missing" an image the
    store holds whole (by the digest its tag last resolved to) asks nothing of the registry;
    "always" asks it for the tag; "never" asks nothing and says what is missing."""
    text, _, pinned = reference_text.partition("@")
    ref = parse_reference(text)
    where = str(platform)
    if access.pull != "always":
        digest = pinned or store.resolution(reference_text, where)
        stored = _stored_image(digest, platform, store) if digest else None
        if stored is not None:
            reporter.note(f"{reference_text}: {stored.manifest_digest} (stored)")
            return stored
        if access.pull == "never":
            missing = "was never pulled" if not digest else "is not all in the local store"
            raise RegistryError(
                f"{reference_text} {missing}, and --pull=never forbids asking {ref.domain}"
            )
    failures = []
    for endpoint in access.endpoints(ref):
        client = access.client(endpoint.host, insecure=endpoint.insecure)
        try:
            pulled = _pull_from(
                client,
                endpoint.path,
                ref.tag,
                pinned=pinned,
                name=reference_text,
                platform=platform,
                scratch=scratch,
                store=store,
            )
        except RegistryError as error:
            failures.append(str(error) if not endpoint.mirror else f"mirror {endpoint}: {error}")
            continue
        if not pinned:
            store.remember_resolution(reference_text, where, pulled.manifest_digest)
        reporter.note(f"{reference_text}: {pulled.manifest_digest}")
        return pulled
    if len(failures) == 1:
        raise RegistryError(failures[0])
    raise RegistryError(
        f"{reference_text}: no mirror had it, nor its registry: " + "; ".join(failures)
    )


def _pull_from(
    client: RegistryClient,
    repository: str,
    tag: str,
    *,
    pinned: str | None,
    name: str,
    platform: Platform,
    scratch: Path,
    store: BlobStore,
) -> PulledImage:
    """The pull itself, from one registry (a mirror, or the image's own)."""
    reference_text = name
    scope = f"repository:{repository}:pull"

    def fetch(path: str, digest: str | None, accept: str | None = None) -> bytes:
        answer = client.request("GET", path, scope, headers={"Accept": accept} if accept else None)
        data = answer.read(MANIFEST_LIMIT + 1)
        if len(data) > MANIFEST_LIMIT:  # as containerd refuses them: no image needs more
            raise RegistryError(f"{reference_text}: {path} is over {MANIFEST_LIMIT} bytes")
        if digest and sha256_digest(data) != digest:
            raise RegistryError(f"{reference_text}: {path} does not hash to {digest}")
        return data

    data = fetch(f"/v2/{repository}/manifests/{pinned or tag}", pinned, MANIFEST_ACCEPT)
    document = json_object(data, f"the manifest of {reference_text}")
    if Index.is_index(document):
        chosen = Index.from_json(document).for_platform(platform, reference_text)
        data = fetch(f"/v2/{repository}/manifests/{chosen.digest}", chosen.digest, MANIFEST_ACCEPT)
        document = json_object(data, f"the manifest of {reference_text}")
    manifest = Manifest.from_json(document)
    store.keep_bytes(data)  # the platform's manifest, for the next build's --pull=missing

    def blob(digest: str, size: int) -> Path:
        kept = store.verified_blob(digest)
        if kept is not None:
            return kept

        def download(path: Path) -> None:
            """Exactly `size` bytes: never more than the descriptor says, nor fewer."""
            answer = client.request("GET", f"/v2/{repository}/{BLOBS}/{digest}", scope)
            remaining = size
            with open(path, "wb") as out:
                while remaining and (chunk := answer.read(min(1 << 20, remaining))):
                    out.write(chunk)
                    remaining -= len(chunk)
            if remaining or answer.read(1):
                raise RegistryError(
                    f"{reference_text}: blob {digest} is not the {size} bytes its descriptor says"
                )

        try:
            return store.fetch_into(digest, download, scratch)
        except InvalidBlob as error:
            raise RegistryError(f"{reference_text}: {error}") from None

    config = ImageConfig.from_json(blob(manifest.config.digest, manifest.config.size).read_bytes())
    layers = tuple(blob(layer.digest, layer.size) for layer in manifest.layers)
    return PulledImage(config, layers, sha256_digest(data))
