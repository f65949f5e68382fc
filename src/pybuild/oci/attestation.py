"""Attestations as BuildKit stores them, so that tools which read BuildKit's read pybuild's: per
image manifest an attestation manifest in the same index, whose layers are in-toto statements
about that manifest.

- The index entry has platform `unknown/unknown` (a runtime choosing by platform never picks
  it: Docker 20.10 pulls and runs such an index) and the annotations
  `vnd.docker.reference.type: attestation-manifest` and `vnd.docker.reference.digest`.
- The manifest is an OCI 1.1 artifact: `artifactType` names it an attestation manifest, its
  config is the empty `{}`, and its `subject` is the image manifest, so a registry with the
  referrers API lists it and one without gets the `sha256-HEX` tag (oci/registry.py).
- Each layer is one in-toto statement (`application/vnd.in-toto+json`), annotated with its
  predicate type; its subject names the image manifest by digest.

A predicate needs the image as written (its manifest digest, its layers' diff_ids), so an
Attestation carries a function from the written image to its predicate, called by the writer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .model import (
    EMPTY_JSON,
    MEDIA_OCI_EMPTY,
    MEDIA_OCI_MANIFEST,
    Descriptor,
    Manifest,
    canonical_json,
    sha256_digest,
)
from .platform import Platform
from .reference import Reference

MEDIA_IN_TOTO = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v0.1"
ATTESTATION_ARTIFACT = "application/vnd.docker.attestation.manifest.v1+json"
REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"
ATTESTATION_MANIFEST = "attestation-manifest"
PREDICATE_TYPE = "in-toto.io/predicate-type"
UNKNOWN_PLATFORM = Platform("unknown", "unknown")
EMPTY_CONFIG = Descriptor(MEDIA_OCI_EMPTY, sha256_digest(EMPTY_JSON), len(EMPTY_JSON))


@dataclass(frozen=True)
class Subject:
    """The image an attestation speaks of, as written: what a predicate may depend on."""

    manifest: Descriptor
    diff_ids: tuple[str, ...]
    platform: Platform
    refs: tuple[Reference, ...]

    @property
    def names(self) -> list[str]:
        """The statement's subject names, as BuildKit writes them: a package URL per tag
        (`pkg:docker/NAME@TAG?platform=...`), or `_` for an image without one."""
        platform = quote(str(self.platform), safe="")
        named = [f"pkg:docker/{ref.domain}/{ref.path}@{ref.tag}" for ref in self.refs]
        return [f"{name}?platform={platform}" for name in named] or ["_"]


@dataclass(frozen=True)
class Attestation:
    """One statement to attach: its predicate type and how to make the predicate."""

    predicate_type: str
    predicate: Callable[[Subject], Mapping[str, Any]]


def statement(attestation: Attestation, subject: Subject) -> bytes:
    """The in-toto statement (canonical JSON: equal inputs, equal bytes)."""
    hex_digest = subject.manifest.digest.split(":", 1)[1]
    return canonical_json(
        {
            "_type": STATEMENT_TYPE,
            "predicateType": attestation.predicate_type,
            "subject": [{"name": name, "digest": {"sha256": hex_digest}} for name in subject.names],
            "predicate": attestation.predicate(subject),
        }
    )


def attestation_manifest(subject: Subject, statements: list[tuple[str, bytes]]) -> Manifest:
    """The artifact manifest holding `statements` ((predicate type, statement bytes) each)."""
    layers = tuple(
        Descriptor(MEDIA_IN_TOTO, sha256_digest(data), len(data), {PREDICATE_TYPE: kind})
        for kind, data in statements
    )
    image = Descriptor(subject.manifest.media_type, subject.manifest.digest, subject.manifest.size)
    return Manifest(
        EMPTY_CONFIG, layers, MEDIA_OCI_MANIFEST, artifact_type=ATTESTATION_ARTIFACT, subject=image
    )


def index_entry(manifest: bytes, subject: Descriptor) -> Descriptor:
    """The index's descriptor of an attestation manifest about `subject`."""
    return Descriptor(
        MEDIA_OCI_MANIFEST,
        sha256_digest(manifest),
        len(manifest),
        {REFERENCE_DIGEST: subject.digest, REFERENCE_TYPE: ATTESTATION_MANIFEST},
        UNKNOWN_PLATFORM,
    )


def is_attestation(entry: Descriptor) -> bool:
    """Whether an index entry is an attestation manifest rather than an image."""
    return entry.annotations.get(REFERENCE_TYPE) == ATTESTATION_MANIFEST
