"""A layer cache that outlives the machine: `--cache-to` / `--cache-from` (buildx's spelling),
kept in a registry (`type=registry,ref=REG/REPO:TAG`) or a directory (`type=local,dest=DIR` /
`src=DIR`, an OCI layout).

The cache is one OCI artifact: a manifest whose config is the empty descriptor and whose layers
are the layer blobs it knows, each annotated with its content key. The key is what decides a
blob's bytes: pybuild's layer format version, the compression and its level, and the layer's
diff_id (the sha256 of its uncompressed tar, which covers every path, mode, owner, time and
byte in it). A fresh machine computes a layer's diff_id by reading its files once (no tar is
written, nothing is compressed) unless its own layer cache knows it from the files' stat.

A cache entry is used only when its blob is there: pushing to the cache's registry, the blob is
mounted into the target repository (no byte is uploaded); otherwise it is downloaded into the
local blob store and checked against its digest. An entry whose blob is missing or arrives
with other bytes is skipped with a warning, and the layer is built as if there were no cache.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from ..events import QUIET, Reporter
from .blobstore import FORMAT, BlobStore, InvalidBlob
from .compression import Compression
from .layer import BuiltLayer, Layer, tar_digests
from .layout import blob_path
from .model import (
    EMPTY_JSON,
    MEDIA_OCI_EMPTY,
    MEDIA_OCI_LAYER,
    MEDIA_OCI_MANIFEST,
    Descriptor,
    Image,
    Index,
    InvalidDocument,
    LayerBlob,
    Manifest,
    sha256_digest,
)
from .reference import Reference, parse_reference
from .registry import RegistryAccess, RegistryClient, RegistryError

ARTIFACT_TYPE = "application/vnd.pybuild.layer-cache.v1"
KEY = "dev.pybuild.cache.key"  # annotation of each layer descriptor: its content key
EMPTY = Descriptor(MEDIA_OCI_EMPTY, sha256_digest(EMPTY_JSON), len(EMPTY_JSON))


@dataclass(frozen=True)
class CacheSpec:
    """One --cache-from or --cache-to: a registry reference, or a directory."""

    type: str  # "registry" or "local"
    ref: Reference | None = None
    path: Path | None = None

    def __str__(self) -> str:
        return f"{self.ref.domain}/{self.ref.path}:{self.ref.tag}" if self.ref else str(self.path)


def parse_cache(text: str, flag: str) -> CacheSpec:
    """`type=registry,ref=REF` or `type=local,src=DIR` (--cache-from) / `dest=DIR` (--cache-to);
    a bare REF means type=registry, as buildx reads it."""
    if "=" not in text:
        return CacheSpec("registry", parse_reference(text))
    fields = dict(part.partition("=")[::2] for part in text.split(","))
    kind = fields.pop("type", "registry")
    fields.pop("mode", None)  # buildx's min/max: pybuild keeps the image's layers either way
    fields.pop("oci-mediatypes", None)
    if kind == "registry" and "ref" in fields:
        spec = CacheSpec("registry", parse_reference(fields.pop("ref")))
    elif kind == "local" and ("src" if flag == "--cache-from" else "dest") in fields:
        spec = CacheSpec(
            "local", path=Path(fields.pop("src" if flag == "--cache-from" else "dest"))
        )
    else:
        where = "src=DIR" if flag == "--cache-from" else "dest=DIR"
        raise UsageError(f"{flag} {text}: expected type=registry,ref=REF or type=local,{where}")
    if fields:
        raise UsageError(f"{flag} {text}: unknown option(s) {', '.join(sorted(fields))}")
    return spec


def content_key(diff_id: str, compression: Compression) -> str:
    return f"pybuild-layer-v{FORMAT}|{compression.name}|{compression.level}|{diff_id}"


@dataclass
class RemoteLayers:
    """What --cache-from offered: content key -> the blob's descriptor, and where it lives."""

    entries: dict[str, Descriptor] = field(default_factory=dict)
    sources: dict[str, CacheSpec] = field(default_factory=dict)  # digest -> its cache
    mountable: dict[str, tuple[str, str]] = field(default_factory=dict)  # digest -> (host, repo)


def read_caches(
    specs: list[CacheSpec], access: RegistryAccess, *, reporter: Reporter = QUIET
) -> RemoteLayers:
    """Every entry of every cache named; a cache that is missing is no error (the first
    build fills it), one that cannot be read is a warning."""
    found = RemoteLayers()
    for spec in specs:
        try:
            manifest = _read_manifest(spec, access)
        except (RegistryError, InvalidDocument, OSError, ValueError, KeyError, TypeError) as error:
            reporter.note(f"warning: --cache-from {spec}: not used ({error})")
            continue
        if manifest is None:
            reporter.note(f"--cache-from {spec}: no cache there yet")
            continue
        for layer in manifest.layers:
            key = layer.annotations.get(KEY)
            if key and key not in found.entries:
                found.entries[key] = layer
                found.sources[layer.digest] = spec
        reporter.note(f"--cache-from {spec}: {len(manifest.layers)} layers")
    return found


def _read_manifest(spec: CacheSpec, access: RegistryAccess) -> Manifest | None:
    if spec.type == "local":
        assert spec.path is not None
        index = spec.path / "index.json"
        if not index.is_file():
            return None
        entries = Index.from_json(index.read_bytes()).manifests
        if not entries:
            raise InvalidDocument("its index.json lists no manifest")
        return Manifest.from_json((spec.path / blob_path(entries[0].digest)).read_bytes())
    assert spec.ref is not None
    client = access.client(spec.ref.domain)
    scope = f"repository:{spec.ref.path}:pull"
    found = client.find_manifest(spec.ref.path, spec.ref.tag, scope, accept=MEDIA_OCI_MANIFEST)
    return Manifest.from_json(found) if found is not None else None


def diff_id_of(layer: Layer, compression: Compression, store: BlobStore) -> str:
    """The layer's diff_id: known to the local cache from its files' stat, else hashed from
    its tar as it goes by (the files read once, nothing written)."""
    known = layer.known_blob(compression, store)
    return known.diff_id if known is not None else tar_digests(layer, store).diff_id


def take_from_caches(
    images: list[Image],
    remote: RemoteLayers,
    *,
    compression: Compression,
    store: BlobStore,
    mount_to: str | None,
    access: RegistryAccess,
    reporter: Reporter = QUIET,
) -> int:
    """Before the export: every layer the caches hold becomes known to the local store under
    its stat key, so the export does not build it. `mount_to` (the registry the image is
    pushed to) lets blobs in a cache there be mounted, never downloaded; other blobs are
    downloaded and checked. Returns how many layers came from the caches."""
    if not remote.entries or store.root is None or compression.name == "uncompressed":
        if remote.entries and compression.name == "uncompressed":
            _check_present(images, remote, access, reporter=reporter)
        return 0
    taken, seen = 0, set()
    for image in images:
        for layer in image.layers:
            if not isinstance(layer, BuiltLayer):  # a base image's layer: stored already
                continue
            local_key = layer.key(compression, store)
            if local_key in seen or local_key is None or store.lookup(local_key) is not None:
                continue
            seen.add(local_key)
            diff_id = diff_id_of(layer, Compression(), store)
            found = remote.entries.get(content_key(diff_id, compression))
            if found is None:
                continue
            spec = remote.sources[found.digest]
            blob = LayerBlob(diff_id, found.digest, found.size)
            if spec.ref is not None and spec.ref.domain == mount_to:
                if not _blob_there(spec, found, access, reporter=reporter):
                    continue
                remote.mountable[found.digest] = (spec.ref.domain, spec.ref.path)
            elif not _download(spec, found, store=store, access=access, reporter=reporter):
                continue
            store.remember(local_key, blob)
            taken += 1
    return taken


def _check_present(
    images: list[Image], remote: RemoteLayers, access: RegistryAccess, *, reporter: Reporter
) -> None:
    """Uncompressed layers are cheaper to build than to fetch: their entries are only checked,
    so that a cache gone bad still says so."""
    for descriptor in remote.entries.values():
        _blob_there(remote.sources[descriptor.digest], descriptor, access, reporter=reporter)


def _blob_there(
    spec: CacheSpec, blob: Descriptor, access: RegistryAccess, *, reporter: Reporter
) -> bool:
    if spec.ref is None:
        assert spec.path is not None
        there = (spec.path / blob_path(blob.digest)).is_file()
    else:
        client = access.client(spec.ref.domain)
        scope = f"repository:{spec.ref.path}:pull"
        try:
            there = client.has_blob(spec.ref.path, blob.digest, scope)
        except RegistryError as error:
            reporter.note(f"warning: cache {spec}: {error}; the layer is built instead")
            return False
    if not there:
        reporter.note(
            f"warning: cache {spec} lists layer blob {blob.digest} but does not hold it; "
            "the layer is built instead"
        )
    return there


def _download(
    spec: CacheSpec,
    blob: Descriptor,
    *,
    store: BlobStore,
    access: RegistryAccess,
    reporter: Reporter,
) -> bool:
    """Fetch the blob into the local store, checked against its digest."""

    def fetch(path: Path) -> str | None:
        if spec.ref is None:
            assert spec.path is not None
            path.write_bytes((spec.path / blob_path(blob.digest)).read_bytes())
            return None
        client = access.client(spec.ref.domain)
        with open(path, "wb") as into:
            return client.download_blob(
                spec.ref.path,
                blob.digest,
                blob.size,
                into=into,
                scope=f"repository:{spec.ref.path}:pull",
            )

    if not _blob_there(spec, blob, access, reporter=reporter):
        return False
    try:
        with tempfile.TemporaryDirectory(prefix="pybuild-cache-") as scratch:
            store.fetch_into(blob.digest, fetch, Path(scratch))
    except (InvalidBlob, RegistryError, OSError) as error:
        reporter.note(f"warning: cache {spec}: layer blob {blob.digest}: {error}; built instead")
        return False
    return True


def write_cache(
    spec: CacheSpec,
    images: list[Image],
    *,
    compression: Compression,
    store: BlobStore,
    access: RegistryAccess,
    pushed_to: Reference | None,
    make_blob: Callable[[Layer, Path], LayerBlob],
    reporter: Reporter = QUIET,
) -> None:
    """--cache-to: the layers of every image (each platform's) and their keys, as one artifact
    at `spec`. Blobs the image's push left in the same registry are mounted; others come from
    the local blob store, or are made again (`make_blob` writes a layer's blob to a file). A
    layer whose blob cannot be had as recorded is left out, with a warning."""
    entries: dict[str, tuple[Layer, LayerBlob]] = {}
    for image in images:
        for layer in image.layers:
            blob = layer.known_blob(compression, store)
            if blob is not None:
                entries.setdefault(blob.digest, (layer, blob))
    with tempfile.TemporaryDirectory(prefix="pybuild-cache-to-") as scratch:

        def blob_file(layer: Layer, blob: LayerBlob) -> Path | None:
            kept = store.verified_blob(blob.digest)
            if kept is not None:
                return kept
            path = Path(scratch) / blob.digest.replace(":", "-")
            made = make_blob(layer, path)
            if made.digest != blob.digest:
                reporter.note(
                    f"warning: --cache-to {spec}: a layer came out as {made.digest} when made "
                    f"again, not {blob.digest}; it is left out of the cache"
                )
                return None
            return path

        pairs = list(entries.values())
        if spec.type == "local":
            kept = _write_local(spec, pairs, blob_file=blob_file)
        else:
            kept = _write_registry(
                spec, pairs, access=access, pushed_to=pushed_to, blob_file=blob_file
            )
        descriptors = tuple(
            Descriptor(
                MEDIA_OCI_LAYER + compression.media_suffix,
                blob.digest,
                blob.size,
                {KEY: content_key(blob.diff_id, compression)},
            )
            for blob in kept
        )
        manifest = Manifest(EMPTY, descriptors, artifact_type=ARTIFACT_TYPE).to_json()
        if spec.type == "local":
            _close_local(spec, manifest)
        else:
            _close_registry(spec, manifest, access=access)
    reporter.note(f"--cache-to {spec}: {len(descriptors)} layers")


BlobFile = Callable[[Layer, LayerBlob], "Path | None"]


def _write_local(
    spec: CacheSpec, pairs: list[tuple[Layer, LayerBlob]], *, blob_file: BlobFile
) -> list[LayerBlob]:
    """The cache's blobs in a directory (an OCI layout); returns those it holds."""
    assert spec.path is not None
    kept = []
    for layer, blob in pairs:
        target = spec.path / blob_path(blob.digest)
        if not target.exists():
            source = blob_file(layer, blob)
            if source is None:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        kept.append(blob)
    return kept


def _close_local(spec: CacheSpec, manifest: bytes) -> None:
    """The empty config, the manifest and index.json naming it."""
    from .layout import DirLayout

    assert spec.path is not None
    layout = DirLayout(spec.path)
    layout.blob(EMPTY_JSON)
    digest = layout.blob(manifest)
    entry = Descriptor(MEDIA_OCI_MANIFEST, digest, len(manifest), artifact_type=ARTIFACT_TYPE)
    layout.file("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    layout.file("index.json", Index((entry,)).to_json())


def _write_registry(
    spec: CacheSpec,
    pairs: list[tuple[Layer, LayerBlob]],
    *,
    access: RegistryAccess,
    pushed_to: Reference | None,
    blob_file: BlobFile,
) -> list[LayerBlob]:
    """The cache's blobs in its repository: there already, mounted from the repository the
    image was pushed to, or uploaded; returns those it holds."""
    assert spec.ref is not None
    ref = spec.ref
    client: RegistryClient = access.client(ref.domain, pushing=True)
    source = pushed_to.path if pushed_to is not None and pushed_to.domain == ref.domain else None
    scope = f"repository:{ref.path}:pull,push" + (f" repository:{source}:pull" if source else "")
    kept = []
    for layer, blob in pairs:
        if not client.has_blob(ref.path, blob.digest, scope) and not (
            source and client.mount_blob(ref.path, blob.digest, source, scope=scope)
        ):
            path = blob_file(layer, blob)
            if path is None:
                continue
            client.upload_blob(ref.path, blob.digest, blob.size, path=path, scope=scope)
        kept.append(blob)
    return kept


def _close_registry(spec: CacheSpec, manifest: bytes, *, access: RegistryAccess) -> None:
    """The empty config and the manifest, under the cache's tag."""
    assert spec.ref is not None
    ref = spec.ref
    client = access.client(ref.domain, pushing=True)
    scope = f"repository:{ref.path}:pull,push"
    if not client.has_blob(ref.path, EMPTY.digest, scope):
        with tempfile.NamedTemporaryFile() as empty:
            empty.write(EMPTY_JSON)
            empty.flush()
            client.upload_blob(
                ref.path, EMPTY.digest, EMPTY.size, path=Path(empty.name), scope=scope
            )
    client.put_manifest(ref.path, ref.tag, manifest, media_type=MEDIA_OCI_MANIFEST, scope=scope)
