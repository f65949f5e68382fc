"""Reading images from files: a docker-archive (`manifest.json`, as `docker save` writes it, in
its old form with `ID.json` and `ID/layer.tar` and its Docker 25 form with blobs), an OCI
archive or an OCI image layout directory (`index.json`, perhaps an index of platforms). The one
reader of image archives, for FROM a --build-context, `inspect`, `validate` and pushing.

Names inside are cleaned once and never lead outside the archive or directory; members are
opened as streams (a layer is never held whole); the config is read into the typed model,
nulls normalised; anything malformed is an ArchiveError naming the file, never a traceback.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import PybuildError, first_line
from .attestation import PREDICATE_TYPE, REFERENCE_DIGEST, is_attestation
from .layout import blob_digest, blob_path
from .model import (
    INDEX_TYPES,
    Descriptor,
    ImageConfig,
    Index,
    InvalidDocument,
    Manifest,
    json_error_place,
    json_object,
    json_value,
    sha256_digest,
)
from .platform import Platform

REF_NAME = "org.opencontainers.image.ref.name"


class ArchiveError(PybuildError):
    """The file or directory cannot be read as an image."""


@dataclass(frozen=True)
class ArchivedImage:
    """Where an image's parts are inside an archive, and its config."""

    config_bytes: bytes
    config: ImageConfig
    layer_names: tuple[str, ...]  # member names, lowest layer first
    tags: tuple[str, ...]
    manifest_bytes: bytes | None = None  # the OCI manifest, when found through index.json

    @property
    def image_id(self) -> str:
        return sha256_digest(self.config_bytes)


@dataclass(frozen=True)
class AttachedStatement:
    """An in-toto statement attached to an image of the archive (an attestation manifest's
    layer): which image (its manifest and config digests), what kind, and where its bytes are."""

    manifest_digest: str
    image_id: str
    platform: str
    predicate_type: str
    digest: str
    size: int


class ImageArchive:
    """Files of an archive (tar) or a layout directory, by name. Use as a context manager."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.path.exists():
            raise ArchiveError(f"{self.path} does not exist")
        self.tar: tarfile.TarFile | None = None
        self.members: dict[str, tarfile.TarInfo] = {}  # by clean name: `./x` and `x` alike
        if not self.path.is_dir():
            if not self.path.is_file():  # a FIFO or device: reading it could wait forever
                raise ArchiveError(f"{self.path} is not a regular file or a directory")
            try:
                self.tar = tarfile.open(self.path)
                # Every header now: a cut-off archive fails here, clearly.
                self.members = {posixpath.normpath(m.name): m for m in self.tar.getmembers()}
            except (tarfile.TarError, EOFError) as error:
                raise ArchiveError(_not_a_tar(self.path, error)) from None
            except OSError as error:
                raise ArchiveError(f"{self.path}: cannot read it ({error.strerror})") from None

    def __enter__(self) -> ImageArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()

    def _clean(self, name: str) -> str:
        """A member name, refused when it would lead outside the archive or directory."""
        cleaned = posixpath.normpath(name)
        if name.startswith("/") or ".." in name.split("/"):  # even a `..` that comes back
            raise ArchiveError(f"{self.path}: the name {name!r} points outside the image")
        return cleaned

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes] | None]:
        """The member `name` as a stream, or None when there is none. A member cut short
        raises ArchiveError as it is read."""
        name = self._clean(name)
        if self.tar is None:
            candidate = self.path / name
            if not candidate.is_file():
                yield None
                return
            with open(candidate, "rb") as handle:
                yield handle
            return
        found = self.members.get(name)
        member = self.tar.extractfile(found) if found is not None else None
        try:
            yield member
        except (tarfile.TarError, EOFError):
            raise ArchiveError(f"{self.path}: {name} is cut short or not a tar") from None

    def read(self, name: str) -> bytes | None:
        with self.open(name) as handle:
            return handle.read() if handle is not None else None

    def required(self, name: str) -> bytes:
        data = self.read(name)
        if data is None:
            raise ArchiveError(f"{self.path} lacks {name}")
        return data

    def size(self, name: str) -> int:
        name = self._clean(name)
        try:
            if self.tar is None:
                return (self.path / name).stat().st_size
            return self.members[name].size
        except (KeyError, OSError):
            raise ArchiveError(f"{self.path} names {name} but does not hold it") from None

    def blob(self, digest: str) -> bytes:
        """A blob, checked against its digest."""
        data = self.required(blob_path(digest))
        if sha256_digest(data) != digest:
            raise ArchiveError(f"{self.path}: blob {digest} does not hash to its name")
        return data

    def platforms(self) -> list[Descriptor]:
        """The per-platform manifests when index.json leads to an image index (several
        platforms, or one with attestations), else nothing."""
        try:
            entries = self._top_entries()
        except (InvalidDocument, ValueError, KeyError, TypeError) as error:
            raise ArchiveError(f"{self.path}: cannot read the index: {problem(error)}") from None
        return [
            entry for entry in entries if entry.platform is not None and not is_attestation(entry)
        ]

    def _top_entries(self) -> list[Descriptor]:
        """The entries of the index that index.json leads to (nothing for a single image)."""
        index_json = self.read("index.json")
        if index_json is None:
            return []
        entries = list(Index.from_json(index_json).manifests)
        while len(entries) == 1 and entries[0].media_type in INDEX_TYPES:
            entries = list(Index.from_json(self.blob(entries[0].digest)).manifests)
        return entries

    def attestations(self) -> list[AttachedStatement]:
        """Every statement of the attestation manifests beside the images (BuildKit's way of
        attaching SBOMs and provenance), in index order."""
        try:
            entries = self._top_entries()
            images = {entry.digest: entry for entry in entries if not is_attestation(entry)}
            found = []
            for entry in entries:
                subject = entry.annotations.get(REFERENCE_DIGEST, "")
                if not is_attestation(entry) or subject not in images:
                    continue
                image = Manifest.from_json(self.blob(subject))
                platform = images[subject].platform
                for layer in Manifest.from_json(self.blob(entry.digest)).layers:
                    found.append(
                        AttachedStatement(
                            subject,
                            image.config.digest,
                            str(platform) if platform else "",
                            layer.annotations.get(PREDICATE_TYPE, ""),
                            layer.digest,
                            layer.size,
                        )
                    )
        except (InvalidDocument, ValueError, KeyError, TypeError) as error:
            raise ArchiveError(
                f"{self.path}: cannot read the attestations: {problem(error)}"
            ) from None
        return found

    def image(
        self, platform: Platform | None = None, *, tag: str | None = None, digest: str | None = None
    ) -> ArchivedImage:
        """The image: from manifest.json when there is one (what `docker load` reads), else
        from index.json (for an index of platforms: the one for `platform`, else the first).
        `tag` or `digest` choose among the images of an index.json."""
        try:
            manifest_json = self.read("manifest.json")
            chosen = tag is not None or digest is not None
            several = platform is not None and bool(self.platforms())  # choose in the index
            if manifest_json is not None and not chosen and not several:
                return self._docker_image(manifest_json)
            return self._oci_image(platform, tag, digest)
        except (InvalidDocument, ValueError, KeyError, TypeError) as error:
            raise ArchiveError(f"{self.path}: cannot read the image: {problem(error)}") from None

    def _docker_image(self, manifest_json: bytes) -> ArchivedImage:
        entries = json_value(manifest_json, f"{self.path} manifest.json")
        if not isinstance(entries, list) or not entries or not isinstance(entries[0], Mapping):
            raise ArchiveError(f"{self.path}: manifest.json lists no image")
        entry = entries[0]
        config_name = self._clean(str(entry["Config"]))
        config_bytes = self.required(config_name)
        digest = blob_digest(config_name)
        if digest is not None and sha256_digest(config_bytes) != digest:
            raise ArchiveError(f"{self.path}: the config does not hash to its name")
        layers = tuple(self._clean(str(name)) for name in entry.get("Layers") or [])
        tags = tuple(str(tag) for tag in entry.get("RepoTags") or [])
        manifest = self._manifest_of(sha256_digest(config_bytes))
        config = ImageConfig.from_json(config_bytes)
        return ArchivedImage(config_bytes, config, layers, tags, manifest)

    def _manifest_of(self, config_digest: str) -> bytes | None:
        """The OCI manifest of the config manifest.json names, when index.json leads to one
        (Docker 25's `docker save`, pybuild's docker type): what names the image by digest."""
        try:
            for entry in self._top_entries():
                if entry.media_type in INDEX_TYPES or is_attestation(entry):
                    continue
                data = self.blob(entry.digest)
                if Manifest.from_json(data).config.digest == config_digest:
                    return data
        except (ArchiveError, InvalidDocument, ValueError, KeyError, TypeError):
            return None  # an index that does not say: the image is named by its config
        return None

    def _oci_image(
        self, platform: Platform | None, tag: str | None, digest: str | None
    ) -> ArchivedImage:
        index_json = self.read("index.json")
        if index_json is None:
            raise ArchiveError(
                f"{self.path}: neither manifest.json nor index.json: not an image archive"
            )
        index = Index.from_json(index_json)
        tags = tuple(
            tag for tag in (entry.annotations.get(REF_NAME) for entry in index.manifests) if tag
        )
        if tag is not None or digest is not None:
            chosen = [
                entry
                for entry in index.manifests
                if entry.digest == digest or (tag and entry.annotations.get(REF_NAME) == tag)
            ]
            if not chosen:
                raise ArchiveError(
                    f"{self.path} holds no image {('@' + digest) if digest else tag}"
                )
            index = Index(tuple(chosen))
        data = self.blob(index.choose(platform, f"{self.path} index.json").digest)
        document: Any = json_object(data, "a manifest")
        while Index.is_index(document):  # an index of platforms
            data = self.blob(Index.from_json(document).choose(platform, str(self.path)).digest)
            document = json_object(data, "a manifest")
        manifest = Manifest.from_json(document)
        config_bytes = self.blob(manifest.config.digest)
        return ArchivedImage(
            config_bytes,
            ImageConfig.from_json(config_bytes),
            tuple(blob_path(layer.digest) for layer in manifest.layers),
            tags,
            data,
        )


def _not_a_tar(path: Path, error: BaseException) -> str:
    """Why `path` could not be opened as a tar, in words (tarfile's own messages name its
    internals, not the user's file)."""
    if isinstance(error, EOFError) or "unexpected end" in str(error):
        return f"{path} is cut short: it ends inside a member (an interrupted copy?)"
    try:
        size = path.stat().st_size
    except OSError:
        size = -1
    if size == 0:
        return f"{path} is an empty file, not an image archive"
    if size > 0 and size % 512:
        return f"{path} is not a tar archive or an OCI layout directory (or was cut off)"
    return f"{path} is not a tar archive or an OCI layout directory"


READ_FAILURES = (tarfile.TarError, ValueError, KeyError, TypeError, EOFError, OSError)


def unreadable(path: Path, error: BaseException) -> str:
    """Why an image in `path` could not be read, in words: the user's file and what is wrong
    with it, never the text of a Python exception."""
    if isinstance(error, PybuildError):
        return str(error)
    if isinstance(error, OSError):
        return f"{path}: cannot read the image ({error.strerror or 'I/O error'})"
    if isinstance(error, (tarfile.TarError, EOFError)):
        return f"{path}: a layer is cut short or not a tar"
    return f"{path}: {problem(error)}"


def problem(error: BaseException) -> str:
    """What is wrong with a document, from the error reading it raised."""
    if isinstance(error, InvalidDocument):
        return first_line(error)
    if isinstance(error, KeyError):
        return (
            f"a document lacks the field {error.args[0]!r}" if error.args else "a field is missing"
        )
    if isinstance(error, ValueError):
        return f"a document is not valid{json_error_place(error)}"
    return "a document has a field of the wrong type"
