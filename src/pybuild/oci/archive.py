"""Reading images from files: a docker-archive (`manifest.json`, as `docker save` writes it, in
its old form with `ID.json` and `ID/layer.tar` and its Docker 25 form with blobs), an OCI
archive or an OCI image layout directory (`index.json`, perhaps an index of platforms). The one
reader of image archives, for FROM a --build-context, `inspect` and `validate`.

Names inside are cleaned once, members are opened as streams (a layer is never held whole),
and the config is read into the typed model, nulls normalised.
"""

from __future__ import annotations

import json
import posixpath
import tarfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import PybuildError
from .layout import blob_digest, blob_path
from .model import ImageConfig, Index, InvalidDocument, Manifest, sha256_digest
from .platform import Platform

REF_NAME = "org.opencontainers.image.ref.name"


class ArchiveError(PybuildError):
    """The file or directory cannot be read as an image."""


@dataclass(frozen=True)
class ArchivedImage:
    """Where an image's parts are inside an archive, and its config."""

    config_name: str  # the config's member name (a blob path, or ID.json in old archives)
    config_bytes: bytes
    config: ImageConfig
    layer_names: tuple[str, ...]  # member names, lowest layer first
    tags: tuple[str, ...]
    manifest: Manifest | None = None  # the OCI manifest, when the image was found through one

    @property
    def image_id(self) -> str:
        return sha256_digest(self.config_bytes)


class ImageArchive:
    """Files of an archive (tar) or a layout directory, by name. Use as a context manager."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.path.exists():
            raise ArchiveError(f"{self.path} does not exist")
        self.tar: tarfile.TarFile | None = None
        if not self.path.is_dir():
            try:
                self.tar = tarfile.open(self.path)
            except (tarfile.TarError, OSError) as error:
                raise ArchiveError(
                    f"{self.path} is not a tar archive or an OCI layout directory: {error}"
                ) from None

    def __enter__(self) -> ImageArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes] | None]:
        """The member `name` as a stream, or None when there is none."""
        name = posixpath.normpath(name)
        if self.tar is None:
            candidate = self.path / name
            if not candidate.is_file():
                yield None
                return
            with open(candidate, "rb") as handle:
                yield handle
            return
        try:
            yield self.tar.extractfile(name)
        except KeyError:
            yield None

    def read(self, name: str) -> bytes | None:
        with self.open(name) as handle:
            return handle.read() if handle is not None else None

    def required(self, name: str) -> bytes:
        data = self.read(name)
        if data is None:
            raise ArchiveError(f"{self.path} lacks {name}")
        return data

    def size(self, name: str) -> int:
        if self.tar is None:
            return (self.path / name).stat().st_size
        return self.tar.getmember(posixpath.normpath(name)).size

    def blob(self, digest: str) -> bytes:
        """A blob, checked against its digest."""
        data = self.required(blob_path(digest))
        if sha256_digest(data) != digest:
            raise ArchiveError(f"{self.path}: blob {digest} does not hash to its name")
        return data

    def image(self, platform: Platform | None = None) -> ArchivedImage:
        """The image: from manifest.json when there is one (what `docker load` reads), else
        from index.json (for an index of platforms: the one for `platform`, else the first)."""
        try:
            manifest_json = self.read("manifest.json")
            if manifest_json is not None:
                return self._docker_image(manifest_json)
            return self._oci_image(platform)
        except (InvalidDocument, ValueError, KeyError, TypeError) as error:
            raise ArchiveError(f"{self.path}: cannot read the image: {error}") from None

    def _docker_image(self, manifest_json: bytes) -> ArchivedImage:
        entries = json.loads(manifest_json)
        if not isinstance(entries, list) or not entries or not isinstance(entries[0], Mapping):
            raise ArchiveError(f"{self.path}: manifest.json lists no image")
        entry = entries[0]
        config_name = posixpath.normpath(str(entry["Config"]))
        config_bytes = self.required(config_name)
        digest = blob_digest(config_name)
        if digest is not None and sha256_digest(config_bytes) != digest:
            raise ArchiveError(f"{self.path}: the config does not hash to its name")
        layers = tuple(posixpath.normpath(str(name)) for name in entry.get("Layers") or [])
        tags = tuple(str(tag) for tag in entry.get("RepoTags") or [])
        return ArchivedImage(
            config_name, config_bytes, ImageConfig.from_json(config_bytes), layers, tags
        )

    def _oci_image(self, platform: Platform | None) -> ArchivedImage:
        index_json = self.read("index.json")
        if index_json is None:
            raise ArchiveError(
                f"{self.path}: neither manifest.json nor index.json: not an image archive"
            )
        index = Index.from_json(index_json)
        if not index.manifests:
            raise ArchiveError(f"{self.path}: index.json lists no manifest")
        tags = tuple(
            tag for tag in (entry.annotations.get(REF_NAME) for entry in index.manifests) if tag
        )
        document: Any = json.loads(self.blob(index.manifests[0].digest))
        while Index.is_index(document):  # an index of platforms
            nested = Index.from_json(document)
            chosen = (
                nested.for_platform(platform, str(self.path)) if platform else nested.manifests[0]
            )
            document = json.loads(self.blob(chosen.digest))
        manifest = Manifest.from_json(document)
        config_bytes = self.blob(manifest.config.digest)
        return ArchivedImage(
            blob_path(manifest.config.digest),
            config_bytes,
            ImageConfig.from_json(config_bytes),
            tuple(blob_path(layer.digest) for layer in manifest.layers),
            tags,
            manifest,
        )
