"""The image model: typed OCI documents (descriptor, manifest, index, image config) and the image
a build makes before it is written.

Foreign documents (a base image's config, a registry's manifest) are read here, once, by the
`from_json` constructors: a `null` or missing field becomes an empty value and unknown fields
are dropped (as BuildKit drops them when it decodes into the OCI types), so nothing downstream
sees `null`. Every document is written as canonical JSON (sorted keys, no spaces), so the same
image always has the same digests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..errors import PybuildError
from .platform import Platform
from .reference import Reference

if TYPE_CHECKING:
    from .attestation import Attestation
    from .layer import Layer

MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
# OCI 1.1: the config of an artifact manifest that has none, `{}` (its digest is fixed).
MEDIA_OCI_EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_JSON = b"{}"
# Docker schema 2 layer types by the OCI layer type's suffix (oci-mediatypes=false).
DOCKER_LAYER = {
    "": "application/vnd.docker.image.rootfs.diff.tar",
    "+gzip": "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "+zstd": "application/vnd.docker.image.rootfs.diff.tar.zstd",
}
INDEX_TYPES = (MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST)
MANIFEST_TYPES = (MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST)
SCRATCH_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SHA256 = re.compile(r"sha256:[0-9a-f]{64}")  # the one digest algorithm pybuild verifies


class InvalidDocument(PybuildError):
    """A manifest, index or config that is not what its type says."""


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


DIGEST_FORMS = {"sha256": 64, "sha512": 128}  # the OCI spec's registered algorithms


def _bad_digest(digest: object, item: Mapping[str, Any]) -> str:
    """Why a descriptor's digest is refused: malformed for its algorithm, or an algorithm
    (sha512) that pybuild does not verify, so cannot trust."""
    algorithm, _, encoded = str(digest).partition(":")
    length = DIGEST_FORMS.get(algorithm)
    if length and re.fullmatch(f"[0-9a-f]{{{length}}}", encoded):
        return f"digest {digest}: pybuild verifies sha256 digests only, not {algorithm}"
    if length:
        return f"malformed digest {str(digest)[:80]!r}: {algorithm} is {length} lower-case hex"
    return f"a descriptor without a sha256 digest: {dict(item)}"[:300]


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The digest of a file's bytes, read a chunk at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def json_value(data: bytes | str, what: str) -> Any:
    """Decoded JSON from a file or server pybuild does not control: malformed, or nested so
    deep that the decoder would recurse out of stack, it is one InvalidDocument."""
    try:
        return json.loads(data)
    except RecursionError:
        raise InvalidDocument(f"{what} is JSON nested too deep to read") from None
    except ValueError as error:
        raise InvalidDocument(f"{what} is not JSON{json_error_place(error)}") from None


def json_error_place(error: ValueError) -> str:
    """Where JSON went wrong, in words, never the decoder's own message."""
    if isinstance(error, json.JSONDecodeError):
        return f" (line {error.lineno}, column {error.colno})"
    if isinstance(error, UnicodeDecodeError):
        return f" (not UTF-8 text at byte {error.start})"
    return ""


def json_object(data: bytes | Mapping[str, Any], what: str) -> Mapping[str, Any]:
    """A JSON object from bytes (or an already decoded one); anything else is an error."""
    if isinstance(data, (bytes, bytearray)):
        data = json_value(data, what)
    if not isinstance(data, Mapping):
        raise InvalidDocument(f"{what} is not a JSON object")
    return data


def _strings(value: Any) -> tuple[str, ...] | None:
    """A JSON list of strings as a tuple (null items dropped); null or missing as None."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidDocument(f"expected a list of strings, got {value!r}")
    return tuple(str(item) for item in value if item is not None)


def _keys(value: Any) -> tuple[str, ...] | None:
    """A JSON set (`{"80/tcp": {}}`) as its sorted keys; null, missing or empty as None."""
    if not value:
        return None
    if not isinstance(value, Mapping):
        raise InvalidDocument(f"expected an object, got {value!r}")
    return tuple(sorted(value))


def _annotations(value: Any) -> dict[str, str]:
    """Annotations as the spec has them, string to string; anything else is dropped."""
    if not isinstance(value, Mapping):
        return {}
    return {str(key): item for key, item in value.items() if isinstance(item, str)}


@dataclass(frozen=True)
class Descriptor:
    """What a manifest or index says of a blob: its type, digest and size."""

    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    artifact_type: str = ""  # OCI 1.1: in a referrers index, what kind of artifact it is

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.artifact_type:
            value["artifactType"] = self.artifact_type
        if self.annotations:
            value["annotations"] = dict(self.annotations)
        if self.platform is not None:
            value["platform"] = self.platform.to_json()
        return value

    @staticmethod
    def from_json(value: Any) -> Descriptor:
        item = json_object(value, "a descriptor")
        digest, size = item.get("digest"), item.get("size")
        if not isinstance(digest, str) or not SHA256.fullmatch(digest):
            raise InvalidDocument(_bad_digest(digest, item))
        if not isinstance(size, int) or size < 0:
            raise InvalidDocument(f"descriptor {digest} has no valid size")
        platform = item.get("platform")
        return Descriptor(
            str(item.get("mediaType") or ""),
            digest,
            size,
            _annotations(item.get("annotations")),
            Platform.from_json(platform) if isinstance(platform, Mapping) else None,
            str(item.get("artifactType") or ""),
        )


@dataclass(frozen=True)
class Manifest:
    """An image manifest (OCI, or Docker schema 2): the config and the layers, in order."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str = MEDIA_OCI_MANIFEST
    annotations: Mapping[str, str] = field(default_factory=dict)
    # OCI 1.1 artifacts: what kind of artifact, and the manifest it refers to (a referrer).
    artifact_type: str = ""
    subject: Descriptor | None = None

    def to_json(self) -> bytes:
        document: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "config": self.config.to_json(),
            "layers": [layer.to_json() for layer in self.layers],
        }
        if self.annotations:
            document["annotations"] = dict(self.annotations)
        if self.artifact_type:
            document["artifactType"] = self.artifact_type
        if self.subject is not None:
            document["subject"] = self.subject.to_json()
        return canonical_json(document)

    def with_docker_media_types(self) -> Manifest:
        """The same manifest with Docker schema 2 media types (oci-mediatypes=false)."""
        layers = tuple(
            replace(layer, media_type=DOCKER_LAYER[layer.media_type.removeprefix(MEDIA_OCI_LAYER)])
            for layer in self.layers
        )
        return replace(
            self,
            config=replace(self.config, media_type=MEDIA_DOCKER_CONFIG),
            layers=layers,
            media_type=MEDIA_DOCKER_MANIFEST,
        )

    @staticmethod
    def from_json(data: bytes | Mapping[str, Any]) -> Manifest:
        value = json_object(data, "the manifest")
        if not isinstance(value.get("config"), Mapping) or not isinstance(
            value.get("layers"), list
        ):
            raise InvalidDocument("the manifest has no config or no layers")
        subject = value.get("subject")
        return Manifest(
            Descriptor.from_json(value["config"]),
            tuple(Descriptor.from_json(layer) for layer in value["layers"]),
            str(value.get("mediaType") or MEDIA_OCI_MANIFEST),
            _annotations(value.get("annotations")),
            str(value.get("artifactType") or ""),
            Descriptor.from_json(subject) if isinstance(subject, Mapping) else None,
        )


@dataclass(frozen=True)
class Index:
    """An image index (or Docker manifest list): one manifest per platform, or per tag."""

    manifests: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        document: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": MEDIA_OCI_INDEX,
            "manifests": [item.to_json() for item in self.manifests],
        }
        if self.annotations:
            document["annotations"] = dict(self.annotations)
        return canonical_json(document)

    @staticmethod
    def is_index(data: Mapping[str, Any]) -> bool:
        return data.get("mediaType") in INDEX_TYPES or "manifests" in data

    @staticmethod
    def from_json(data: bytes | Mapping[str, Any]) -> Index:
        value = json_object(data, "the index")
        if not isinstance(value.get("manifests"), list):
            raise InvalidDocument("the index lists no manifests")
        return Index(
            tuple(Descriptor.from_json(item) for item in value["manifests"]),
            _annotations(value.get("annotations")),
        )

    def choose(self, platform: Platform | None, name: str) -> Descriptor:
        """The entry for `platform` when the entries say what platform they are for, else
        the first (an index of tags, as `docker save` writes)."""
        if not self.manifests:
            raise InvalidDocument(f"{name}: an index lists no manifest")
        if platform is not None and any(entry.platform for entry in self.manifests):
            return self.for_platform(platform, name)
        return self.manifests[0]

    def for_platform(self, platform: Platform, name: str) -> Descriptor:
        """The entry for `platform` (containerd's matching rules, see Platform.matches)."""
        for entry in self.manifests:
            if entry.platform is not None and platform.matches(entry.platform):
                return entry
        offered = ", ".join(
            str(entry.platform)
            for entry in self.manifests
            if entry.platform and entry.platform.os != "unknown"  # attestations are not images
        )
        raise InvalidDocument(f"{name} has no image for {platform} (it offers {offered or 'none'})")


# Where an annotation goes, as buildx names the places (`--annotation index,manifest:K=V`).
ANNOTATION_PLACES = ("manifest", "index", "manifest-descriptor", "index-descriptor")


@dataclass(frozen=True)
class Annotation:
    """One annotation to write: its place, key and value, and for manifests optionally the one
    platform whose manifest takes it (None: every platform's)."""

    place: str
    key: str
    value: str
    platform: Platform | None = None


def annotations_at(
    annotations: tuple[Annotation, ...], place: str, platform: Platform | None = None
) -> dict[str, str]:
    """The annotations for one place (and, for a manifest, one platform), later ones winning."""
    return {
        item.key: item.value
        for item in annotations
        if item.place == place
        and (
            item.platform is None
            or platform is None
            or item.platform.normalized() == platform.normalized()  # that one, not one it runs
        )
    }


def tagged_index(
    manifest: Descriptor, refs: list[Reference], extra: Mapping[str, str] | None = None
) -> Index:
    """One index entry per tag, annotated as Docker 25's `docker save` does, so tools find tags
    (`extra`: annotations asked for on that descriptor)."""
    entries = []
    tags: list[Reference | None] = list(refs) or [None]
    for ref in tags:
        names = (
            {}
            if ref is None
            else {
                "io.containerd.image.name": ref.full,
                "org.opencontainers.image.ref.name": ref.tag,
            }
        )
        entries.append(
            Descriptor(
                manifest.media_type,
                manifest.digest,
                manifest.size,
                {**(extra or {}), **names},
            )
        )
    return Index(tuple(entries))


@dataclass(frozen=True)
class Healthcheck:
    """HEALTHCHECK as the config stores it; durations in nanoseconds, 0 meaning unset."""

    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0

    FIELDS = (
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start_period", "StartPeriod"),
        ("start_interval", "StartInterval"),
        ("retries", "Retries"),
    )

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {"Test": list(self.test)}
        for name, key in self.FIELDS:
            if getattr(self, name):
                value[key] = getattr(self, name)
        return value

    @staticmethod
    def from_json(value: Any) -> Healthcheck | None:
        test = _strings(value.get("Test")) if isinstance(value, Mapping) else None
        if not isinstance(value, Mapping) or not test:
            return None  # no test: nothing to check (an empty Test means "inherit" to Docker)
        numbers = {name: int(value.get(key) or 0) for name, key in Healthcheck.FIELDS}
        return Healthcheck(test, **numbers)


@dataclass(frozen=True)
class RunConfig:
    """The config's `config` object: how a container of the image runs. None means absent (not
    written); an empty tuple is written as an empty list (`CMD []`)."""

    env: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    working_dir: str | None = None
    user: str | None = None
    exposed_ports: tuple[str, ...] | None = None
    volumes: tuple[str, ...] | None = None
    labels: Mapping[str, str] | None = None
    stop_signal: str | None = None
    healthcheck: Healthcheck | None = None
    shell: tuple[str, ...] | None = None
    on_build: tuple[str, ...] | None = None
    args_escaped: bool | None = None

    def env_pairs(self) -> dict[str, str]:
        pairs = (item.partition("=") for item in self.env or ())
        return {key: value for key, _, value in pairs}

    def with_env(self, key: str, value: str) -> RunConfig:
        """Set `key`, replacing an earlier value in place (as Docker does) or appending."""
        env = list(self.env or ())
        for index, item in enumerate(env):
            if item.partition("=")[0] == key:
                env[index] = f"{key}={value}"
                break
        else:
            env.append(f"{key}={value}")
        return replace(self, env=tuple(env))

    def with_labels(self, labels: Mapping[str, str]) -> RunConfig:
        return replace(self, labels={**(self.labels or {}), **labels})

    def with_ports(self, ports: list[str]) -> RunConfig:
        return replace(self, exposed_ports=tuple(sorted({*(self.exposed_ports or ()), *ports})))

    def with_volumes(self, paths: list[str]) -> RunConfig:
        return replace(self, volumes=tuple(sorted({*(self.volumes or ()), *paths})))

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {}
        lists = (
            ("Env", self.env),
            ("Cmd", self.cmd),
            ("Entrypoint", self.entrypoint),
            ("Shell", self.shell),
            ("OnBuild", self.on_build),
        )
        for key, items in lists:
            if items is not None:
                value[key] = list(items)
        for key, text in (
            ("WorkingDir", self.working_dir),
            ("User", self.user),
            ("StopSignal", self.stop_signal),
        ):
            if text is not None:
                value[key] = text
        for key, names in (("ExposedPorts", self.exposed_ports), ("Volumes", self.volumes)):
            if names is not None:
                value[key] = {name: {} for name in names}
        if self.labels is not None:
            value["Labels"] = dict(self.labels)
        if self.healthcheck is not None:
            value["Healthcheck"] = self.healthcheck.to_json()
        if self.args_escaped is not None:
            value["ArgsEscaped"] = self.args_escaped
        return value

    @staticmethod
    def from_json(value: Any) -> RunConfig:
        """A foreign `config` object: nulls and empty strings become absent, unknown keys go
        (Docker writes Hostname, AttachStdin and the like, which BuildKit drops too)."""
        if not isinstance(value, Mapping):
            return RunConfig()
        labels = value.get("Labels")

        def text(key: str) -> str | None:
            found = value.get(key)
            return str(found) if found else None

        return RunConfig(
            env=_strings(value.get("Env")) or None,
            cmd=_strings(value.get("Cmd")) or None,
            entrypoint=_strings(value.get("Entrypoint")) or None,
            working_dir=text("WorkingDir"),
            user=text("User"),
            exposed_ports=_keys(value.get("ExposedPorts")),
            volumes=_keys(value.get("Volumes")),
            labels={str(k): "" if v is None else str(v) for k, v in labels.items()}
            if isinstance(labels, Mapping) and labels
            else None,
            stop_signal=text("StopSignal"),
            healthcheck=Healthcheck.from_json(value.get("Healthcheck")),
            shell=_strings(value.get("Shell")) or None,
            on_build=_strings(value.get("OnBuild")) or None,
            args_escaped=bool(value["ArgsEscaped"]) if value.get("ArgsEscaped") else None,
        )


@dataclass(frozen=True)
class HistoryEntry:
    created_by: str
    empty_layer: bool
    created: str | None = None  # a base image's own time; None: this build's

    def to_json(self, created: str) -> dict[str, Any]:
        item: dict[str, Any] = {"created": self.created or created, "created_by": self.created_by}
        if self.empty_layer:
            item["empty_layer"] = True
        return item

    @staticmethod
    def from_json(value: Any) -> HistoryEntry:
        item = value if isinstance(value, Mapping) else {}
        return HistoryEntry(
            str(item.get("created_by") or ""),
            bool(item.get("empty_layer")),
            str(item["created"]) if item.get("created") else None,
        )


@dataclass(frozen=True)
class ImageConfig:
    """The image config document but for `rootfs`, which is derived from the layers when the
    image is written; `diff_ids` holds what a read document said."""

    platform: Platform
    created: str
    run: RunConfig = RunConfig()
    history: tuple[HistoryEntry, ...] = ()
    author: str = ""
    diff_ids: tuple[str, ...] = ()

    def to_json(self, diff_ids: list[str]) -> bytes:
        """The config document; its sha256 is the image ID."""
        document: dict[str, Any] = {
            "architecture": self.platform.architecture,
            "os": self.platform.os,
            "created": self.created,
            "config": self.run.to_json(),
            "history": [entry.to_json(self.created) for entry in self.history],
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
        if self.platform.variant:
            document["variant"] = self.platform.variant
        if self.author:
            document["author"] = self.author
        return canonical_json(document)

    @staticmethod
    def from_json(data: bytes | Mapping[str, Any]) -> ImageConfig:
        value = json_object(data, "the image config")
        rootfs = value.get("rootfs")
        diff_ids = _strings(rootfs.get("diff_ids")) if isinstance(rootfs, Mapping) else None
        history = value.get("history")
        return ImageConfig(
            Platform(
                str(value.get("os") or "linux"),
                str(value.get("architecture") or "amd64"),
                str(value.get("variant") or ""),
            ),
            str(value.get("created") or ""),
            RunConfig.from_json(value.get("config")),
            tuple(HistoryEntry.from_json(item) for item in history)
            if isinstance(history, list)
            else (),
            str(value.get("author") or ""),
            diff_ids or (),
        )

    def layer_history(self) -> list[str]:
        """`created_by` of the history entries that made layers, in order."""
        return [entry.created_by for entry in self.history if not entry.empty_layer]


@dataclass(frozen=True)
class Image:
    """An image before it is written: its layers (unwritten, or stored blobs) and its config."""

    layers: tuple[Layer, ...]
    config: ImageConfig
    attestations: tuple[Attestation, ...] = ()  # statements to attach (SBOM, provenance)


@dataclass(frozen=True)
class LayerBlob:
    """A written layer: diff_id (sha256 of the tar), and digest and size of the stored blob."""

    diff_id: str
    digest: str
    size: int


@dataclass(frozen=True)
class WrittenImage:
    """What writing an image produced: its IDs, each layer's blob and the config bytes."""

    image_id: str
    manifest_digest: str
    layers: tuple[LayerBlob, ...]
    config: bytes
    up_to_date: bool = False  # the destination already held this image; nothing was written
    dest_identity: list[int] | None = None  # filestat of the file written (or found) at dest
