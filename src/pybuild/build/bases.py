"""Base images: FROM something other than scratch or a stage.

A base comes from a local archive or layout (`--build-context NAME=docker-archive:PATH`,
`oci-archive:PATH` or `oci-layout:DIR`, read by oci/archive.py) or from a registry
(`FROM host[:port]/repo:tag` or `@sha256:...`, pulled by oci/registry.py). Every digest is
verified. Its layers are reused as they are (`StoredLayer`); its files are the union of its
layers (oci/rootfs.py: whiteouts and opaque directories applied), read in place from the
decompressed tars in the build's scratch directory when copied."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..events import QUIET, Reporter
from ..oci.archive import ImageArchive
from ..oci.blobstore import NO_CACHE, BlobStore
from ..oci.compression import sniff_file
from ..oci.layer import StoredLayer, read_entries
from ..oci.layout import blob_digest
from ..oci.model import Image, ImageConfig, sha256_digest, sha256_file
from ..oci.platform import Platform
from ..oci.registry import RegistryAccess, pull_image
from ..oci.rootfs import RootFS
from .archives import uncompressed_tar
from .contexts import NamedContext


@dataclass(frozen=True)
class BaseImage:
    """A base image ready to build on: its layers and config, and the files they make."""

    name: str
    image: Image
    files: RootFS
    digest: str = ""  # its manifest's (a local image without one: its config's, the image ID)


def assemble(
    name: str, config: ImageConfig, blobs: list[Path], *, scratch: Path, digest: str = ""
) -> BaseImage:
    """A base image from its config and layer blobs (in order), verifying every diff_id."""
    if len(config.diff_ids) != len(blobs):
        raise UsageError(
            f"base image {name}: {len(blobs)} layers but {len(config.diff_ids)} diff_ids"
        )
    made_by = config.layer_history()
    files = RootFS()
    layers = []
    for number, (blob, diff_id) in enumerate(zip(blobs, config.diff_ids, strict=True)):
        kind = sniff_file(blob)
        tar = uncompressed_tar(blob, kind, scratch) if kind else blob
        if sha256_file(tar) != diff_id:
            raise UsageError(
                f"base image {name}: layer {number + 1} does not hash to its diff_id {diff_id}"
            )
        stored = kind if kind in ("gzip", "zstd") else "uncompressed"
        if kind not in (None, "gzip", "zstd"):  # bzip2/xz are no OCI media types: store the tar
            blob = tar
        entries = read_entries(tar, name)
        layers.append(
            StoredLayer(
                diff_id,
                blob,
                diff_id if blob == tar else sha256_file(blob),  # an uncompressed blob is its tar
                blob.stat().st_size,
                stored,
                tar,
                entries,
                made_by[number] if number < len(made_by) else "",
            )
        )
        files.apply(entries)
    return BaseImage(name, Image(tuple(layers), config), files, digest)


def load_local(context: NamedContext, platform: Platform, scratch: Path) -> BaseImage:
    """A --build-context image file or layout (docker-archive, oci-archive, oci-layout); from
    an index of platforms, the image for `platform`; from a layout, the tag or digest asked."""
    name = context.name
    with ImageArchive(Path(context.location)) as archive:
        found = archive.image(platform, tag=context.tag, digest=context.digest)
        blobs = []
        for number, layer_name in enumerate(found.layer_names):
            target = scratch / f"{hashlib.sha256(name.encode()).hexdigest()[:12]}-layer-{number}"
            with archive.open(layer_name) as handle, open(target, "wb") as out:
                if handle is None:
                    raise UsageError(
                        f"--build-context {name}: {context.location} lacks {layer_name}"
                    )
                shutil.copyfileobj(handle, out, 1 << 20)
            expected = blob_digest(layer_name)
            if expected is not None and sha256_file(target) != expected:
                raise UsageError(f"--build-context {name}: {layer_name} does not hash to its name")
            blobs.append(target)
    digest = sha256_digest(found.manifest_bytes) if found.manifest_bytes else found.image_id
    return assemble(name, found.config, blobs, scratch=scratch, digest=digest)


def pull(
    reference_text: str,
    platform: Platform,
    scratch: Path,
    *,
    access: RegistryAccess,
    store: BlobStore = NO_CACHE,
    reporter: Reporter = QUIET,
) -> BaseImage:
    """Pull `host/repo:tag` or `host/repo@sha256:...` from its registry, verifying digests;
    blobs already in `store` are not fetched again."""
    pulled = pull_image(
        reference_text, platform, scratch, access=access, store=store, reporter=reporter
    )
    return assemble(
        reference_text,
        pulled.config,
        list(pulled.blobs),
        scratch=scratch,
        digest=pulled.manifest_digest,
    )
