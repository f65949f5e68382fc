"""SLSA provenance v1 (https://slsa.dev/spec/v1.0/provenance): which builder made the image from
which inputs, every input named by digest. Its times follow the image's timestamp policy (the
epoch unless SOURCE_DATE_EPOCH or --timestamp say otherwise), and it holds no random id, so
equal inputs give an equal statement.

`min` mode names the builder, the Dockerfile, the target and platform, and every material (base
images, ADD URLs, the context, the git checkout); `max` adds the build arguments and, per
instruction, the layer it made, as BuildKit's max mode records build args and layers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..build.evaluator import Material
from ..oci.attestation import Attestation, Subject
from .vcs import Checkout

PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
# What the build type's parameters mean: a Dockerfile and its build request, as pybuild takes
# them (a URN, since pybuild has no web home to name; README.md describes it).
BUILD_TYPE = "urn:pybuild:provenance:dockerfile:v1"
BUILDER_ID = "urn:pybuild:builder"


@dataclass(frozen=True)
class BuildRecord:
    """What decided the image, as the build knew it."""

    dockerfile: str  # its path as given, relative to the context when inside it
    dockerfile_digest: str  # sha256:... of its bytes
    platform: str
    context_digest: str  # BuildContext.digest()
    started: str  # RFC 3339, from the timestamp policy
    finished: str
    version: str  # pybuild's
    target: str = ""
    build_args: Mapping[str, str] = field(default_factory=dict)
    materials: tuple[Material, ...] = ()
    checkout: Checkout | None = None
    mode: str = "min"  # or max
    layers: tuple[str, ...] = ()  # max: each layer's instruction, lowest first


def _digest(value: str) -> dict[str, str]:
    algorithm, _, hex_digest = value.partition(":")
    return {algorithm: hex_digest}


def predicate(record: BuildRecord, subject: Subject) -> dict[str, Any]:
    """The provenance predicate for the written image `subject`."""
    source: dict[str, Any] = {
        "path": record.dockerfile,
        "digest": _digest(record.dockerfile_digest),
    }
    dependencies: list[dict[str, Any]] = [
        {"uri": item.uri, "digest": _digest(item.digest)} for item in record.materials
    ]
    dependencies.append({"name": "context", "digest": _digest(record.context_digest)})
    if record.checkout is not None:
        revision = {"gitCommit": record.checkout.revision}
        if record.checkout.source:
            source["uri"] = record.checkout.source
            dependencies.append({"uri": record.checkout.source, "digest": revision})
        source["revision"] = record.checkout.revision + ("" if record.checkout.clean else "-dirty")
    args: dict[str, str] = {"platform": record.platform}
    if record.target:
        args["target"] = record.target
    if record.mode == "max":
        args.update({f"build-arg:{key}": value for key, value in sorted(record.build_args.items())})
    internal: dict[str, Any] = {"mode": record.mode}
    if record.mode == "max":
        internal["layers"] = [
            {"diffID": diff_id, "createdBy": made_by}
            for diff_id, made_by in zip(subject.diff_ids, record.layers, strict=False)
        ]
    return {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "configSource": source,
                "request": {"frontend": "dockerfile", "args": args},
            },
            "internalParameters": internal,
            "resolvedDependencies": dependencies,
        },
        "runDetails": {
            "builder": {"id": BUILDER_ID, "version": {"pybuild": record.version}},
            "metadata": {"startedOn": record.started, "finishedOn": record.finished},
        },
    }


def provenance_attestation(record: BuildRecord) -> Attestation:
    return Attestation(PREDICATE_TYPE, lambda subject: predicate(record, subject))
