"""Pushing to and pulling from a registry with the distribution (OCI) HTTP API v2: one client
for both, over the build's pooled connections (transport.py).

A build's new layers go up while they are made (PushingLayout: chunked PATCHes read from the
growing blob file, closed by PUT ?digest= once the digest is known). Every other blob, layers
the cache already knew among them, is checked with HEAD and skipped when the registry has it
(so a push that was cut off and is run again sends only what is missing); small blobs go up in
one PUT, large ones in chunked PATCHes closed by a PUT; the manifest goes last. Blobs move in parallel (Limits.parallel,
4 by default). Auth: anonymous, Basic, or the Bearer token flow driven by the WWW-Authenticate
challenge, tokens reused until they expire and identity (refresh) tokens traded for them; where
credentials come from is credentials.py's business. Registries that are insecure (loopback,
--insecure, registries.conf) are tried over HTTPS without verification, then plain HTTP, as
Docker does; others only over verified HTTPS. 5xx, 429 and dropped connections are retried with
backoff for a bounded time; a download cut off is resumed with Range. A pull verifies every
manifest, config and layer against its digest while it streams."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from ..errors import PybuildError
from ..events import QUIET, Reporter
from .blobstore import NO_CACHE, BlobStore, InvalidBlob
from .credentials import DOCKER_HUB, Credentials, find_credentials
from .layout import (
    BLOBS,
    DirLayout,
    blob_path,
)  # the API's blob routes share the layout's folder name
from .mirrors import Endpoint, endpoints, read_rules
from .model import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    MEDIA_OCI_INDEX,
    Descriptor,
    ImageConfig,
    Index,
    InvalidDocument,
    LayerBlob,
    Manifest,
    canonical_json,
    json_object,
    sha256_digest,
)
from .platform import Platform
from .reference import Reference, parse_reference
from .transport import Connections, Unreachable

if TYPE_CHECKING:  # httpx is loaded only once a registry is used
    import httpx

T = TypeVar("T")
R = TypeVar("R")

MONOLITHIC_LIMIT = 16 << 20  # blobs up to this size go up in one PUT
CHUNK = 8 << 20
READ = 1 << 20
RETRIES = 5
REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 10
DOCKER_HUB_API = "registry-1.docker.io"  # where docker.io and index.docker.io are served
MANIFEST_LIMIT = 4 * 1048 * 1048  # containerd's limit for a manifest or index (sic: 1048)
MANIFEST_ACCEPT = ", ".join(INDEX_TYPES + MANIFEST_TYPES)
TOKEN_LIFETIME = 60  # seconds, when the token service does not say (the distribution spec)
CLIENT_ID = "pybuild"


class RegistryError(PybuildError):
    """A pull or push that did not go through; the message names the registry."""


def explicit_credentials(creds: str | None) -> Credentials | None:
    """--creds, else PYBUILD_REGISTRY_CREDS: USER:PASSWORD."""
    import os

    text = creds or os.environ.get("PYBUILD_REGISTRY_CREDS")
    if not text:
        return None
    user, sep, password = text.partition(":")
    if not sep:
        raise RegistryError("--creds must be USER:PASSWORD")
    return Credentials(user, password)


@dataclass(frozen=True)
class RegistryAccess:
    """How to reach registries: explicit credentials for the registry pushed to, the stores
    Docker and Podman use for every registry (credentials.py), and whether plain HTTP is
    allowed off loopback. One per build: its clients (and their tokens) and connection pools
    are shared by every pull and push of the build."""

    creds: str | None = None  # USER:PASSWORD, for pushing only: never sent to another host
    insecure: bool = False
    mirrors: tuple[str, ...] = ()  # --registry-mirror: hosts tried first for Docker Hub names
    pull: str = "missing"  # --pull: missing (use what is stored), always or never (offline)
    connections: Connections = field(default_factory=Connections, compare=False, repr=False)
    _clients: dict[tuple[str, bool, bool], RegistryClient] = field(
        default_factory=dict, compare=False, repr=False
    )

    def client(self, host: str, *, pushing: bool = False, insecure: bool = False) -> RegistryClient:
        """The client for `host`; Docker Hub's name `docker.io` is served by another host."""
        key = (host, pushing, insecure)
        if key not in self._clients:
            api_host = DOCKER_HUB_API if host in DOCKER_HUB else host
            found = explicit_credentials(self.creds) if pushing else None
            self._clients[key] = RegistryClient(
                api_host,
                found or find_credentials(host),
                self.insecure or insecure,
                connections=self.connections,
            )
        return self._clients[key]

    def endpoints(self, ref: Reference) -> list[Endpoint]:
        """Where to pull `ref` from, in order (mirrors.py)."""
        return endpoints(ref, read_rules(), self.mirrors)

    def close(self) -> None:
        """End the build's connections; the next build looks its credentials up again."""
        self._clients.clear()
        self.connections.close()


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0].strip("[]")
    return name in ("localhost", "::1") or name.startswith("127.")


@dataclass
class Token:
    """An Authorization header and when it stops being good (monotonic seconds)."""

    header: str
    expires: float = float("inf")


@dataclass
class RegistryClient:
    registry: str  # host[:port]
    creds: Credentials | None = None
    insecure: bool = False
    connections: Connections = field(default_factory=Connections)
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # method, path, status
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    _scheme: str = ""  # decided by the first request: https, or http for an insecure registry
    _tokens: dict[str, Token] = field(default_factory=dict)  # scope -> Authorization
    _challenge: str = ""  # the last WWW-Authenticate: where to get a token when one expires
    _refresh_token: str = ""  # given by the token service in exchange for a login
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def may_skip_verification(self) -> bool:
        """Insecure registries (--insecure, registries.conf, loopback, as Docker treats them)
        are tried over HTTPS without verifying the certificate, then over plain HTTP."""
        return self.insecure or is_loopback(self.registry)

    @property
    def scheme(self) -> str:
        return self._scheme or "https"

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.registry}"

    @property
    def retry_for(self) -> float:
        return self.connections.limits.retry_for

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        *,
        content: bytes | Iterator[bytes] | None = None,
    ) -> httpx.Response:
        """One request, no redirects followed. The first one to an insecure registry finds its
        scheme: HTTPS that is not TLS there means plain HTTP from then on."""
        host = urllib.parse.urlsplit(url).netloc
        own = host == self.registry
        verify = not (is_loopback(host) or (own and self.insecure))
        try:
            response = self.connections.send(
                method, url, headers=headers, content=content, verify=verify
            )
        except Unreachable as error:
            # (another thread may have found plain HTTP meanwhile: then this one follows)
            probing = own and self._scheme != "https" and url.startswith("https://")
            # As Docker: an insecure registry that fails over HTTPS in any way (no TLS there,
            # nothing listening on 443) is tried over plain HTTP.
            if not (probing and self.may_skip_verification and error.kind != "url"):
                raise
            url = "http://" + url.removeprefix("https://")
            response = self.connections.send(method, url, headers=headers, content=content)
        if own and not self._scheme:
            with self._lock:
                self._scheme = urllib.parse.urlsplit(url).scheme
        return response

    def _follow(
        self, response: httpx.Response, method: str, url: str, *, sent: dict[str, str]
    ) -> httpx.Response:
        """Follow redirects of a GET or HEAD, as Docker's client does: to a relative Location or
        another host (a storage or CDN URL, often signed), where the registry's Authorization is
        never sent; at most MAX_REDIRECTS hops."""
        for _ in range(MAX_REDIRECTS):
            if response.status_code not in REDIRECTS or method not in ("GET", "HEAD"):
                return response
            location = response.headers.get("Location")
            response.close()
            if not location:
                raise RegistryError(
                    f"registry {self.registry}: {method} {_shown(url)} "
                    f"answered {response.status_code} without a Location"
                )
            url = urllib.parse.urljoin(str(response.request.url), location)
            headers = dict(sent)
            if urllib.parse.urlsplit(url).netloc != self.registry:
                headers.pop("Authorization", None)  # the storage host must never see it
            response = self._send(method, url, headers)
            self.requests.append((method, url, response.status_code))
        if response.status_code not in REDIRECTS:
            return response
        response.close()
        raise RegistryError(
            f"registry {self.registry}: {method} {_shown(url)} was "
            f"redirected more than {MAX_REDIRECTS} times"
        )

    def _url(self, target: str) -> str:
        """A path on the registry, or a URL as the registry gave it (an upload Location)."""
        if urllib.parse.urlsplit(target).scheme:
            return target
        return self.base + target

    def _authorization(self, scope: str) -> str | None:
        """The header for `scope`: a token still good, or a new one when the old expired."""
        with self._lock:
            token = self._tokens.get(scope)
            if token is not None and token.expires <= self.clock():
                del self._tokens[scope]
                if self._challenge:
                    self._authenticate(self._challenge, scope)
                token = self._tokens.get(scope)
            return token.header if token is not None else None

    def request(
        self,
        method: str,
        target: str,
        scope: str,
        *,
        headers: dict[str, str] | None = None,
        body: Callable[[], bytes | Iterator[bytes]] | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> httpx.Response:
        """One request, with auth negotiated on a 401 and retries on 5xx, 429 and broken
        connections. `body` is a callable so a retry can start the body again. The response's
        body is still to be read: the caller reads it or closes it."""
        started = self.clock()
        authenticated = False
        for attempt in range(RETRIES):
            url = self._url(target)
            sent = dict(headers or {})
            authorization = self._authorization(scope)
            if authorization and urllib.parse.urlsplit(url).netloc == self.registry:
                sent["Authorization"] = authorization
            try:
                response = self._send(
                    method, url, sent, content=body() if body is not None else None
                )
                self.requests.append((method, _target(target), response.status_code))
                response = self._follow(response, method, url, sent=sent)
            except Unreachable as error:
                spent = self.clock() - started
                limit = self.connections.limits
                if error.final or attempt == RETRIES - 1 or spent + limit.idle > self.retry_for:
                    raise RegistryError(
                        self._unreachable(method, target, error, attempt=attempt, spent=spent)
                    ) from None
                self.sleep(0.2 * 2**attempt)
                continue
            status = response.status_code
            if status == 401 and not authenticated:
                authenticated = True
                challenge = response.headers.get("WWW-Authenticate") or ""
                response.close()
                with self._lock:
                    current = self._tokens.get(scope)
                    # Unless another thread got a new token meanwhile: then that one is used.
                    if current is None or current.header == sent.get("Authorization"):
                        self._tokens.pop(scope, None)
                        self._authenticate(challenge, scope)
                continue
            wait = _retry_after(response.headers.get("Retry-After"), 0.2 * 2**attempt)
            spent = self.clock() - started
            if status in (429, 500, 502, 503, 504) and attempt < RETRIES - 1:
                if spent + wait <= self.retry_for:
                    response.close()
                    self.sleep(wait)
                    continue
            if status not in expect:
                raise RegistryError(self._refusal(response, method, target))
            return response
        raise RegistryError(f"registry {self.registry}: {method} {_shown(target)} kept failing")

    def _unreachable(
        self, method: str, target: str, error: Unreachable, *, attempt: int, spent: float
    ) -> str:
        if error.kind == "untrusted":
            return str(error)
        return f"cannot reach registry {self.registry} ({method} {_shown(target)}): {error}" + (
            f"; tried {attempt + 1} times over {spent:.0f} s" if attempt else ""
        )

    def _refusal(self, response: httpx.Response, method: str, target: str) -> str:
        """What a registry's unexpected answer says, in one line."""
        try:
            detail = _read_at_most(response, 300).decode(errors="replace")
        except Unreachable:  # a body cut short: the status says enough
            detail = ""
        detail = " ".join(detail.split())[:300]
        hint = (
            " (check --creds, PYBUILD_REGISTRY_CREDS or docker login)"
            if response.status_code in (401, 403)
            else ""
        )
        return (
            f"registry {self.registry}: {method} {_shown(target)} answered "
            f"{response.status_code} {response.reason_phrase}"
            + (f": {detail}" if detail else "")
            + hint
        )

    def _authenticate(self, challenge: str, scope: str) -> None:
        """Answer a WWW-Authenticate challenge for `scope` (called with the lock held)."""
        kind, _, params = challenge.partition(" ")
        self._challenge = challenge
        creds = self.creds
        if kind.lower() == "basic":
            if creds is None or not creds.username:
                raise RegistryError(
                    f"registry {self.registry} answered 401 Unauthorized: it needs "
                    "credentials (--creds USER:PASSWORD, PYBUILD_REGISTRY_CREDS or docker login)"
                )
            self._tokens[scope] = Token(f"Basic {_basic(creds)}")
            return
        if kind.lower() != "bearer":
            raise RegistryError(
                f"registry {self.registry} asks for {kind or 'unknown'} auth, "
                "which pybuild does not speak"
            )
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        realm = fields.get("realm", "")
        if urllib.parse.urlsplit(realm).scheme not in ("http", "https"):
            raise RegistryError(
                f"registry {self.registry}: its token service {realm!r} is not an HTTP URL"
            )
        answer = self._token_answer(realm, fields.get("service", ""), scope)
        bearer = answer.get("token") or answer.get("access_token")
        if not isinstance(bearer, str) or not bearer:
            raise RegistryError(f"registry {self.registry}: the token service gave no token")
        lifetime = answer.get("expires_in")
        if not isinstance(lifetime, (int, float)) or lifetime <= 0:
            lifetime = TOKEN_LIFETIME
        refresh = answer.get("refresh_token")
        if isinstance(refresh, str) and refresh:
            self._refresh_token = refresh
        # Renewed a little early, so a token never expires between the check and the use.
        self._tokens[scope] = Token(f"Bearer {bearer}", self.clock() + max(lifetime - 5, 1))

    def _token_answer(self, realm: str, service: str, scope: str) -> dict[str, object]:
        """Ask the token service: with a refresh token (an identity token from docker login, or
        one the service gave before) by OAuth2's POST, as Docker does; else by GET, with the
        login as Basic auth when there is one (anonymous otherwise, for public pulls)."""
        creds = self.creds
        refresh = self._refresh_token or (creds.identity_token if creds else "")
        form = {"service": service, "scope": scope, "client_id": CLIENT_ID}
        content: bytes | None = None
        if refresh:
            method, url = "POST", realm
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            form.update(grant_type="refresh_token", refresh_token=refresh)
            content = urllib.parse.urlencode(form).encode()
        else:
            method, headers = "GET", {}
            query = {key: value for key, value in form.items() if value}
            if creds is not None and creds.username:
                headers["Authorization"] = f"Basic {_basic(creds)}"
                query["offline_token"] = "true"
            separator = "&" if "?" in realm else "?"
            url = realm + separator + urllib.parse.urlencode(query)
        host = urllib.parse.urlsplit(realm).netloc
        try:
            response = self.connections.send(
                method, url, headers=headers, content=content, verify=not is_loopback(host)
            )
            data = _read_at_most(response, MANIFEST_LIMIT)
        except Unreachable as error:
            if error.kind == "untrusted":
                raise RegistryError(str(error)) from None
            raise RegistryError(
                f"cannot reach the token service of {self.registry}: {error}"
            ) from None
        if response.status_code != 200:
            raise RegistryError(
                f"registry {self.registry}: the token service answered "
                f"{response.status_code} {response.reason_phrase} (check --creds or docker login)"
            )
        try:
            return dict(json_object(data, "the token service's answer"))
        except InvalidDocument as error:
            raise RegistryError(f"registry {self.registry}: {error}") from None

    # --- blobs and manifests ---------------------------------------------------------------

    def has_blob(self, repository: str, digest: str, scope: str) -> bool:
        response = self.request(
            "HEAD", f"/v2/{repository}/{BLOBS}/{digest}", scope, expect=(200, 404)
        )
        response.close()
        return response.status_code == 200

    def mount_blob(self, repository: str, digest: str, source: str, *, scope: str) -> bool:
        """Cross-repository mount: the registry links a blob it holds for `source`."""
        answer = self.request(
            "POST",
            f"/v2/{repository}/{BLOBS}/uploads/?mount={urllib.parse.quote(digest)}"
            f"&from={urllib.parse.quote(source)}",
            scope,
            expect=(201, 202),
        )
        answer.close()
        return answer.status_code == 201

    def upload_blob(
        self,
        repository: str,
        digest: str,
        size: int,
        *,
        path: Path,
        scope: str,
        progress: Callable[[int], None] = lambda done: None,
    ) -> None:
        """Send a blob: one PUT when small, else PATCHes of CHUNK bytes closed by a PUT. Upload
        Locations are followed as given, relative or on another host."""
        location = self.start_upload(repository, scope)
        if size <= MONOLITHIC_LIMIT:
            self.request(
                "PUT",
                _with_digest(location, digest),
                scope,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                body=lambda: _file_chunks(path, size, progress),
                expect=(201,),
            ).close()
            return
        offset = 0
        with open(path, "rb") as blob:
            while offset < size:
                blob.seek(offset)
                chunk = blob.read(CHUNK)
                location = self.patch(location, chunk, offset, scope=scope)
                offset += len(chunk)
                progress(offset)
        self.close_upload(location, digest, scope=scope)

    def start_upload(self, repository: str, scope: str) -> str:
        """Open an upload session; return where its bytes go."""
        start = self.request("POST", f"/v2/{repository}/{BLOBS}/uploads/", scope, expect=(202,))
        start.close()
        return self._location(start)

    def patch(self, location: str, chunk: bytes, offset: int, *, scope: str) -> str:
        """Send the next piece of an upload (Content-Range, as every registry accepts); return
        where the next one goes."""
        answer = self.request(
            "PATCH",
            location,
            scope,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                "Content-Length": str(len(chunk)),
            },
            body=lambda: iter((chunk,)),  # (the request keeps no hold on its bytes once sent)
            expect=(202,),
        )
        answer.close()
        return self._location(answer, location)

    def close_upload(self, location: str, digest: str, *, scope: str) -> None:
        """End an upload: the registry checks the bytes it got against `digest`."""
        self.request(
            "PUT",
            _with_digest(location, digest),
            scope,
            headers={"Content-Length": "0"},
            expect=(201,),
        ).close()

    def download_blob(
        self,
        repository: str,
        digest: str,
        size: int,
        *,
        into: BinaryIO,
        scope: str,
        progress: Callable[[int], None] = lambda done: None,
    ) -> str:
        """Stream exactly `size` bytes of a blob into `into`, hashing them as they arrive;
        returns their digest. A transfer cut off (a reset, a stall, a slow drip) is resumed
        from where it stopped with a Range request, for as long as retries may go on."""
        started, attempt = self.clock(), 0
        hasher, done = hashlib.sha256(), 0
        path = f"/v2/{repository}/{BLOBS}/{digest}"
        while True:
            ranged = {"Range": f"bytes={done}-"} if done else None
            response = self.request("GET", path, scope, headers=ranged, expect=(200, 206))
            try:
                if response.status_code == 200 and done:  # the server would not resume
                    into.seek(0)
                    into.truncate()
                    hasher, done = hashlib.sha256(), 0
                elif response.status_code == 206:
                    given = response.headers.get("Content-Range", "")
                    if not given.startswith(f"bytes {done}-"):
                        raise RegistryError(
                            f"registry {self.registry}: {path} resumed at {given!r}, "
                            f"not at byte {done}"
                        )
                for chunk in response.iter_raw():
                    if done + len(chunk) > size:
                        raise RegistryError(
                            f"registry {self.registry}: blob {digest} is longer than the "
                            f"{size} bytes its descriptor says"
                        )
                    into.write(chunk)
                    hasher.update(chunk)
                    done += len(chunk)
                    progress(done)
            except Unreachable as error:
                attempt += 1
                spent = self.clock() - started
                if error.final or attempt >= RETRIES or spent > self.retry_for:
                    raise RegistryError(
                        self._unreachable("GET", path, error, attempt=attempt - 1, spent=spent)
                    ) from None
                self.sleep(0.2 * 2**attempt)
                continue
            finally:
                response.close()
            if done != size:
                raise RegistryError(
                    f"registry {self.registry}: blob {digest} is {done} bytes, not the {size} "
                    "its descriptor says"
                )
            return f"sha256:{hasher.hexdigest()}"

    def get_manifest(self, repository: str, reference: str, scope: str) -> bytes:
        """A manifest or index, at most MANIFEST_LIMIT bytes (as containerd refuses larger)."""
        response = self.request(
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            scope,
            headers={"Accept": MANIFEST_ACCEPT},
        )
        try:
            said = response.headers.get("Content-Length", "")
            too_big = said.isdigit() and int(said) > MANIFEST_LIMIT  # not even read, then
            data = b"" if too_big else _read_at_most(response, MANIFEST_LIMIT + 1)
        except Unreachable as error:
            raise RegistryError(
                f"registry {self.registry}: reading the manifest {repository}:{reference}: {error}"
            ) from None
        finally:
            response.close()
        if too_big or len(data) > MANIFEST_LIMIT:
            raise RegistryError(
                f"registry {self.registry}: the manifest {repository}:{reference} is over "
                f"{MANIFEST_LIMIT} bytes"
            )
        return data

    def put_manifest(
        self, repository: str, tag: str, manifest: bytes, *, media_type: str, scope: str
    ) -> bool:
        """PUT a manifest (or index) under a tag or its digest. True when the registry says it
        keeps the referrers of the manifest's subject itself (OCI 1.1's `OCI-Subject` answer);
        a manifest with a subject and a False answer needs the `sha256-HEX` tag (see
        `add_referrer`)."""
        answer = self.request(
            "PUT",
            f"/v2/{repository}/manifests/{tag}",
            scope,
            headers={"Content-Type": media_type, "Content-Length": str(len(manifest))},
            body=lambda: manifest,
            expect=(201,),
        )
        answer.close()
        return bool(answer.headers.get("OCI-Subject"))

    def find_manifest(
        self, repository: str, reference: str, scope: str, *, accept: str
    ) -> bytes | None:
        """A manifest that may not be there: its bytes (at most MANIFEST_LIMIT + 1, so that a
        caller can tell one too big), or None when the registry has no such manifest."""
        response = self.request(
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            scope,
            headers={"Accept": accept},
            expect=(200, 404),
        )
        try:
            if response.status_code == 404:
                return None
            return _read_at_most(response, MANIFEST_LIMIT + 1)
        finally:
            response.close()

    def add_referrer(
        self, repository: str, subject: str, referrer: Descriptor, *, scope: str
    ) -> None:
        """The referrers tag schema, for registries without the referrers API: the index
        tagged `sha256-HEX` (HEX the subject's) lists every manifest that refers to it; add
        `referrer` to it (replacing an entry with its digest) and PUT it again."""
        tag = subject.replace(":", "-")
        found = self.find_manifest(repository, tag, scope, accept=MEDIA_OCI_INDEX) or b""
        # Other tools' entries are kept exactly as they are (pybuild need not understand
        # them); only an entry for the same digest is replaced.
        document: dict[str, Any] = {"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX}
        try:
            value = json_object(found, "a referrers index") if found else {}
        except InvalidDocument:
            value = {}
        if found and (len(found) > MANIFEST_LIMIT or not isinstance(value.get("manifests"), list)):
            raise RegistryError(
                f"registry {self.registry}: {repository}:{tag} is not an index of referrers "
                "pybuild can add to (over 4 MiB, or not an index): other tools' referrers may be "
                "there, so it is left as it is and the push stops"
            )
        if found:
            document = dict(value)
        entry = referrer.to_json()
        listed = [item for item in document.get("manifests", []) if isinstance(item, dict)]
        if entry in listed:
            return  # already there: the tag's index is left as it is
        kept = [item for item in listed if item.get("digest") != referrer.digest]
        document["manifests"] = kept + [entry]
        index = canonical_json(document)
        self.put_manifest(repository, tag, index, media_type=MEDIA_OCI_INDEX, scope=scope)

    def put_by_digest(self, repository: str, data: bytes, *, scope: str) -> None:
        """PUT a manifest under its digest (an index's child); one that refers to a subject
        is also listed under the subject's referrers tag where the registry does not keep
        referrers itself."""
        manifest = Manifest.from_json(data)
        digest = sha256_digest(data)
        kept = self.put_manifest(
            repository, digest, data, media_type=manifest.media_type, scope=scope
        )
        if manifest.subject is not None and not kept:
            referrer = Descriptor(
                manifest.media_type,
                digest,
                len(data),
                manifest.annotations,
                artifact_type=manifest.artifact_type or manifest.config.media_type,
            )
            self.add_referrer(repository, manifest.subject.digest, referrer, scope=scope)

    def _location(self, response: httpx.Response, default: str | None = None) -> str:
        """Where an upload goes on: the Location as given (relative to the registry, or another
        host), else `default`."""
        location: str | None = response.headers.get("Location") or default
        if not location:
            raise RegistryError(f"registry {self.registry} gave no upload location")
        return urllib.parse.urljoin(self.base + "/", location)


class StreamedUpload:
    """A blob sent while it is being written to a file: a worker thread reads what has been
    written so far and PATCHes it in CHUNK pieces, so making and uploading overlap and the
    writer never waits for the registry (the page cache is the buffer, not memory).
    `finish(digest, size)` gives the worker the digest for its closing PUT ?digest=, which
    the registry checks against what it got: a partial or wrong blob never lands."""

    def __init__(self, client: RegistryClient, repository: str, path: Path, *, scope: str):
        self.client, self.repository, self.scope = client, repository, scope
        self.source = open(path, "rb")  # noqa: SIM115 (the worker closes it)
        self.written = self.sent = 0
        self.digest = ""
        self.cancelled = False
        self.error: BaseException | None = None
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._send, daemon=True, name="pybuild-upload")
        self.thread.start()

    def advance(self, written: int) -> None:
        """The file now holds `written` bytes."""
        if self.error is not None:
            raise self.error
        with self.changed:
            self.written = written
            self.changed.notify()

    def finish(self, digest: str, size: int) -> None:
        with self.changed:
            self.digest, self.written = digest, size
            self.changed.notify()

    def cancel(self) -> None:
        with self.changed:
            self.cancelled = True
            self.changed.notify()
        self.thread.join()

    def join(self) -> int:
        """Wait until the blob is in the registry; return its size."""
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.sent

    def _piece(self) -> int:
        """How many bytes to send next (0: the upload is complete); waits for the writer."""
        with self.changed:
            self.changed.wait_for(
                lambda: self.cancelled or self.digest or self.written - self.sent >= CHUNK
            )
            if self.cancelled:
                raise RegistryError("upload cancelled")
            return min(CHUNK, self.written - self.sent)

    def _send(self) -> None:
        try:
            with self.source:
                location = self.client.start_upload(self.repository, self.scope)
                while size := self._piece():
                    chunk = os.pread(self.source.fileno(), size, self.sent)
                    location = self.client.patch(location, chunk, self.sent, scope=self.scope)
                    self.sent += len(chunk)
                self.client.close_upload(location, self.digest, scope=self.scope)
        except BaseException as error:  # raised in the writing thread, at its next advance
            self.error = error


class PushingLayout(DirLayout):
    """A layout directory whose layer blobs, as they are written, also go up to `repository`:
    compressing and uploading overlap instead of following each other, several layers upload
    at once, and the push that follows (push_layout, after close) finds those blobs there.
    Blobs the cache already knows are only written here: the push asks the registry whether
    it has them before sending any."""

    def __init__(
        self,
        root: Path,
        client: RegistryClient,
        repository: str,
        *,
        reporter: Reporter,
        mountable: dict[str, str] | None = None,
    ):
        super().__init__(root)
        self.client, self.repository, self.reporter = client, repository, reporter
        self.scope = f"repository:{repository}:pull,push"
        # Blobs a layer cache holds in another repository of this registry: digest -> repository
        self.mountable = mountable or {}
        self.uploads: list[tuple[str, StreamedUpload]] = []
        self.sent: set[str] = set()  # digests whose upload was closed: in the registry now

    def streamed_blob(
        self, produce: Callable[[BinaryIO], LayerBlob], *, known: LayerBlob | None = None
    ) -> LayerBlob:
        if known is not None and known.digest in self.mountable and self._mounted(known):
            return known
        if known is not None:
            return super().streamed_blob(produce)
        with tempfile.NamedTemporaryFile(dir=self.blobs, prefix=".partial-", delete=False) as out:
            upload = StreamedUpload(self.client, self.repository, Path(out.name), scope=self.scope)
            try:
                # (the sink writes and tells, all that making a blob asks of it)
                written = produce(_Upstream(out, upload))  # type: ignore[arg-type]
                out.flush()
            except BaseException:
                upload.cancel()
                raise
        upload.finish(written.digest, written.size)
        os.replace(out.name, self.root / blob_path(written.digest))
        self.uploads.append((written.digest, upload))
        return written

    def _mounted(self, blob: LayerBlob) -> bool:
        """Mount a cached layer's blob from the cache's repository: no byte is sent, and
        none is written here (the push knows the registry has it)."""
        source = self.mountable[blob.digest]
        scope = f"{self.scope} repository:{source}:pull"
        if not self.client.mount_blob(self.repository, blob.digest, source, scope=scope):
            return False
        self.sent.add(blob.digest)
        self.reporter.note(f"{blob.digest}: mounted from the layer cache in {source}")
        self.reporter.layer_finished(blob.diff_id, blob.digest, blob.size, cached=True)
        return True

    def abort(self) -> None:
        """The image will not be pushed (a later layer failed, or Ctrl-C): stop every upload."""
        uploads, self.uploads = self.uploads, []
        for _, upload in uploads:
            upload.cancel()

    def close(self) -> None:
        """Wait for every upload under way."""
        uploads, self.uploads = self.uploads, []
        try:
            for digest, upload in uploads:
                sent = upload.join()
                self.sent.add(digest)
                self.reporter.note(f"{digest}: pushed ({sent} bytes) while it was written")
        finally:
            for _, upload in uploads:
                upload.cancel()


class _Upstream:
    """The layout's file, telling the upload as it grows (in pieces of at least CHUNK)."""

    def __init__(self, out: BinaryIO, upload: StreamedUpload):
        self.out, self.upload = out, upload
        self.told = 0

    def write(self, data: bytes) -> None:
        self.out.write(data)
        if self.out.tell() - self.told >= CHUNK:
            self.flush()

    def flush(self) -> None:
        self.out.flush()
        self.told = self.out.tell()
        self.upload.advance(self.told)

    def tell(self) -> int:
        return self.out.tell()

    def seek(self, offset: int) -> None:
        """Only a cached blob found broken while it was copied goes back; its bytes may be
        sent already, so this push cannot go on."""
        raise RegistryError("the layer cache changed while this layer was pushed; build again")


def _basic(creds: Credentials) -> str:
    return base64.b64encode(f"{creds.username}:{creds.secret}".encode()).decode()


def _shown(target: str) -> str:
    """A request target as errors show it: the path, without a query (which may be signed)."""
    return urllib.parse.urlsplit(target).path or target.split("?")[0]


def _target(target: str) -> str:
    """A target as `requests` records it: the path and query on the registry."""
    parts = urllib.parse.urlsplit(target)
    if not parts.scheme:
        return target
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _read_at_most(response: httpx.Response, limit: int) -> bytes:
    """At most `limit` bytes of a response's body (the rest is never read)."""
    data = bytearray()
    for chunk in response.iter_raw():
        data += chunk
        if len(data) >= limit:
            break
    response.close()
    return bytes(data[:limit])


def _file_chunks(path: Path, size: int, progress: Callable[[int], None]) -> Iterator[bytes]:
    """`size` bytes of a file, read a piece at a time as the request sends them."""
    with open(path, "rb") as source:
        done = 0
        while done < size and (chunk := source.read(min(READ, size - done))):
            done += len(chunk)
            yield chunk
            progress(done)


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


def in_parallel(
    work: Callable[[T], R], items: list[T], limit: int, *, stop: threading.Event
) -> list[R]:
    """`work` on each item, at most `limit` at once; results in the items' order. On the first
    failure (or Ctrl-C) `stop` is set: transfers under way end at their next piece (their
    progress callbacks call `check(stop)`), and those not started never start."""
    if limit <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(limit, len(items))) as pool:
        futures = [pool.submit(work, item) for item in items]
        try:
            return [future.result() for future in futures]
        except BaseException:
            stop.set()
            for future in futures:
                future.cancel()
            raise


def check(stop: threading.Event) -> None:
    """Raise when the transfers this one belongs to were stopped."""
    if stop.is_set():
        raise RegistryError("stopped: another transfer failed or the build was interrupted")


def _progress(
    descriptor: Descriptor, stop: threading.Event, *, reporter: Reporter, action: str
) -> Callable[[int], None]:
    """A transfer's progress callback: it reports, and ends the transfer once `stop` is set."""

    def progress(done: int) -> None:
        check(stop)
        reporter.transfer(descriptor.digest, done, descriptor.size, action=action)

    return progress


def _unique(descriptors: list[Descriptor]) -> list[Descriptor]:
    """Each blob once: an image may list identical layers more than once."""
    seen: dict[str, Descriptor] = {}
    for descriptor in descriptors:
        seen.setdefault(descriptor.digest, descriptor)
    return list(seen.values())


def push_layout(
    layout: Path,
    ref: Reference,
    client: RegistryClient,
    *,
    oci_media_types: bool = True,
    reporter: Reporter = QUIET,
    mount_from: str | None = None,
    sent: frozenset[str] = frozenset(),
) -> str:
    """Push the image in an OCI layout directory to `ref`; return the manifest digest. With
    `mount_from` (a repository of the same registry that has the blobs), missing blobs are
    mounted from it instead of sent again. Blobs in `sent` went up already (PushingLayout)."""
    repository = ref.path
    scope = f"repository:{repository}:pull,push"
    if mount_from:
        scope += f" repository:{mount_from}:pull"
    index = Index.from_json((layout / "index.json").read_bytes())
    top_bytes = (layout / blob_path(index.manifests[0].digest)).read_bytes()
    top = json_object(top_bytes, f"{layout} index.json's image")

    def send(descriptor: Descriptor) -> None:
        digest, size = descriptor.digest, descriptor.size
        if digest in sent:  # its upload was closed under this digest: the registry has it
            return
        if client.has_blob(repository, digest, scope):
            reporter.note(f"{digest}: already in {client.registry}")
            return
        if mount_from and client.mount_blob(repository, digest, mount_from, scope=scope):
            reporter.note(f"{digest}: mounted from {mount_from}")
            return
        client.upload_blob(
            repository,
            digest,
            size,
            path=layout / blob_path(digest),
            scope=scope,
            progress=_progress(descriptor, stop, reporter=reporter, action="push"),
        )
        reporter.note(f"{digest}: pushed ({size} bytes)")

    stop = threading.Event()
    if not Index.is_index(top):  # one image: its blobs, then its manifest under the tag
        manifest = Manifest.from_json(top)
        blobs = _unique([*manifest.layers, manifest.config])
        in_parallel(send, blobs, client.connections.limits.parallel, stop=stop)
        if not oci_media_types:
            manifest = manifest.with_docker_media_types()
            top_bytes = manifest.to_json()
        client.put_manifest(
            repository, ref.tag, top_bytes, media_type=manifest.media_type, scope=scope
        )
        return sha256_digest(top_bytes)
    # An index of platforms: every blob once, each manifest by its digest, the index last.
    entries = Index.from_json(top).manifests
    manifests = [
        (entry, Manifest.from_json((layout / blob_path(entry.digest)).read_bytes()))
        for entry in entries
    ]
    blobs = _unique([item for _, m in manifests for item in (*m.layers, m.config)])
    in_parallel(send, blobs, client.connections.limits.parallel, stop=stop)
    for entry, _ in manifests:
        data = (layout / blob_path(entry.digest)).read_bytes()
        client.put_by_digest(repository, data, scope=scope)
    client.put_manifest(repository, ref.tag, top_bytes, media_type=MEDIA_OCI_INDEX, scope=scope)
    return sha256_digest(top_bytes)


@dataclass(frozen=True)
class PulledImage:
    """An image fetched from a registry: its config and its layer blobs on disk, in order."""

    config: ImageConfig
    blobs: tuple[Path, ...]
    manifest_digest: str = ""
    config_bytes: bytes = b""  # the config as the registry holds it (its digest is the image ID)


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
    data = config.read_bytes()
    return PulledImage(ImageConfig.from_json(data), tuple(layers), digest, data)  # type: ignore[arg-type]


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
                reporter=reporter,
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
    reporter: Reporter,
) -> PulledImage:
    """The pull itself, from one registry (a mirror, or the image's own): the manifest (via
    an index when the tag names one), then the config and layers in parallel."""
    scope = f"repository:{repository}:pull"

    def manifest_bytes(reference: str, digest: str | None) -> bytes:
        data = client.get_manifest(repository, reference, scope)
        if digest and sha256_digest(data) != digest:
            raise RegistryError(f"{name}: the manifest {reference} does not hash to {digest}")
        return data

    data = manifest_bytes(pinned or tag, pinned)
    document = json_object(data, f"the manifest of {name}")
    if Index.is_index(document):
        chosen = Index.from_json(document).for_platform(platform, name)
        data = manifest_bytes(chosen.digest, chosen.digest)
        document = json_object(data, f"the manifest of {name}")
    manifest = Manifest.from_json(document)
    store.keep_bytes(data)  # the platform's manifest, for the next build's --pull=missing

    def blob(descriptor: Descriptor) -> Path:
        digest, size = descriptor.digest, descriptor.size
        kept = store.verified_blob(digest)
        if kept is not None:
            return kept

        def download(path: Path) -> str:
            with open(path, "wb") as into:
                return client.download_blob(
                    repository,
                    digest,
                    size,
                    into=into,
                    scope=scope,
                    progress=_progress(descriptor, stop, reporter=reporter, action="pull"),
                )

        try:
            return store.fetch_into(digest, download, scratch)
        except InvalidBlob as error:
            raise RegistryError(f"{name}: {error}") from None

    stop = threading.Event()
    wanted = _unique([manifest.config, *manifest.layers])
    paths = in_parallel(blob, wanted, client.connections.limits.parallel, stop=stop)
    found = {descriptor.digest: path for descriptor, path in zip(wanted, paths, strict=True)}
    config, layers = found[manifest.config.digest], [found[item.digest] for item in manifest.layers]
    config_bytes = config.read_bytes()
    return PulledImage(
        ImageConfig.from_json(config_bytes), tuple(layers), sha256_digest(data), config_bytes
    )


def create_index(
    target: Reference,
    sources: list[str | Path],
    *,
    access: RegistryAccess,
    reporter: Reporter = QUIET,
) -> str:
    """Join images (each a manifest, or an index whose platforms are taken whole) into one
    image index at `target`, as `docker buildx imagetools create` does. A source is a registry
    reference, whose blobs are mounted (same registry) or copied into the target repository, or
    a local archive or layout (a Path), whose blobs are sent. Each manifest is put by its
    digest, then the index under the target's tag. Returns the index digest."""
    pusher = access.client(target.domain, pushing=True)
    push_scope = f"repository:{target.path}:pull,push"
    entries: list[Descriptor] = []
    for text in sources:
        if isinstance(text, Path):
            sent = _push_local(text, pusher, target.path, scope=push_scope)
            reporter.note(f"{text}: " + ", ".join(str(entry.platform) for entry in sent))
            entries += sent
            continue
        name, _, pinned = text.partition("@")
        source = parse_reference(name)
        client = pusher if source.domain == target.domain else access.client(source.domain)
        scope = f"repository:{source.path}:pull"
        if client is pusher:
            scope = f"{push_scope} {scope}"
        data = client.get_manifest(source.path, pinned or source.tag, scope)
        document = json_object(data, f"the manifest of {text}")
        if Index.is_index(document):
            found = [
                (entry, client.get_manifest(source.path, entry.digest, scope))
                for entry in Index.from_json(document).manifests
            ]
        else:
            manifest = Manifest.from_json(document)
            config = _fetch_blob(client, source.path, manifest.config, scope=scope)
            platform = ImageConfig.from_json(config).platform
            entry = Descriptor(
                manifest.media_type, sha256_digest(data), len(data), platform=platform
            )
            found = [(entry, data)]
        for entry, manifest_bytes in found:
            manifest = Manifest.from_json(manifest_bytes)
            for blob in _unique([manifest.config, *manifest.layers]):
                _copy_blob(client, pusher, blob, source=source.path, target=target.path)
            pusher.put_by_digest(target.path, manifest_bytes, scope=push_scope)
            entries.append(entry)
            reporter.note(f"{text}: {entry.digest} ({entry.platform})")
    index = Index(tuple(entries)).to_json()
    pusher.put_manifest(
        target.path, target.tag, index, media_type=MEDIA_OCI_INDEX, scope=push_scope
    )
    return sha256_digest(index)


def _fetch_blob(client: RegistryClient, repository: str, blob: Descriptor, *, scope: str) -> bytes:
    """A small blob (a config) in memory, checked against its digest."""
    import io

    buffer = io.BytesIO()
    if client.download_blob(repository, blob.digest, blob.size, into=buffer, scope=scope) != (
        blob.digest
    ):
        raise RegistryError(f"registry {client.registry}: blob {blob.digest} arrived changed")
    return buffer.getvalue()


def _copy_blob(
    client: RegistryClient, pusher: RegistryClient, blob: Descriptor, *, source: str, target: str
) -> None:
    """Make `blob` of repository `source` (at `client`'s registry) present in `target` at the
    pusher's registry: already there, mounted across repositories, or downloaded and sent."""
    scope = f"repository:{target}:pull,push repository:{source}:pull"
    if pusher.has_blob(target, blob.digest, scope):
        return
    if client.registry == pusher.registry and pusher.mount_blob(
        target, blob.digest, source, scope=scope
    ):
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pybuild-blob-") as directory:
        held = Path(directory) / "blob"
        with open(held, "wb") as into:
            got = client.download_blob(
                source, blob.digest, blob.size, into=into, scope=f"repository:{source}:pull"
            )
        if got != blob.digest:
            raise RegistryError(f"registry {client.registry}: blob {blob.digest} arrived changed")
        pusher.upload_blob(target, blob.digest, blob.size, path=held, scope=scope)


def _push_local(path: Path, pusher: RegistryClient, target: str, *, scope: str) -> list[Descriptor]:
    """The images of a local archive or layout (its OCI index.json), sent to `target`: every
    blob it lacks, then each manifest by its digest. Returns their descriptors with platforms."""
    import shutil
    import tempfile

    from .archive import ArchiveError, ImageArchive

    try:
        with ImageArchive(path) as archive:
            index_json = archive.read("index.json")
            if index_json is None:
                raise RegistryError(
                    f"{path}: no OCI index.json (pybuild's, skopeo's and Docker 25's archives "
                    "have one)"
                )
            top = Index.from_json(index_json).manifests[0]
            data = archive.blob(top.digest)
            document = json_object(data, f"{path}: its image")
            if Index.is_index(document):
                found = [
                    (entry, archive.blob(entry.digest))
                    for entry in Index.from_json(document).manifests
                ]
            else:
                manifest = Manifest.from_json(document)
                platform = ImageConfig.from_json(archive.blob(manifest.config.digest)).platform
                found = [
                    (
                        Descriptor(manifest.media_type, top.digest, len(data), platform=platform),
                        data,
                    )
                ]
            for _, manifest_bytes in found:
                manifest = Manifest.from_json(manifest_bytes)
                for blob in _unique([manifest.config, *manifest.layers]):
                    if pusher.has_blob(target, blob.digest, scope):
                        continue
                    with tempfile.TemporaryDirectory(prefix="pybuild-blob-") as directory:
                        held = Path(directory) / "blob"
                        with (
                            archive.open(blob_path(blob.digest)) as stream,
                            open(held, "wb") as out,
                        ):
                            if stream is None:
                                raise RegistryError(f"{path} lacks blob {blob.digest}")
                            shutil.copyfileobj(stream, out, 1 << 20)
                        pusher.upload_blob(target, blob.digest, blob.size, path=held, scope=scope)
                pusher.put_by_digest(target, manifest_bytes, scope=scope)
    except (ArchiveError, InvalidDocument) as error:
        raise RegistryError(str(error)) from None
    return [entry for entry, _ in found]
