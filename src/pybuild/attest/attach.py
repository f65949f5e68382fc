"""The attestations of each platform's image, made from what the build knew: its inventory
(SBOM) and its inputs (provenance). The statements are written with the image (oci/layout.py),
once its manifest digest is known."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import __version__
from ..build.context import BuildContext
from ..build.evaluator import Evaluation
from ..oci.attestation import Attestation
from ..oci.model import Image, sha256_digest
from .options import AttestOptions
from .provenance import BuildRecord, provenance_attestation
from .sbom import sbom_attestation
from .vcs import Checkout


@dataclass(frozen=True)
class BuildFacts:
    """What every platform's provenance shares."""

    dockerfile: Path
    dockerfile_text: str
    context: BuildContext
    started: str
    finished: str
    target: str = ""
    build_args: dict[str, str] = field(default_factory=dict)
    checkout: Checkout | None = None

    @property
    def shown_dockerfile(self) -> str:
        """The Dockerfile as the documents name it: relative to the context, or (outside it)
        by its name alone; never a path of the machine that built the image."""
        if not self.dockerfile.is_file():  # `-f -`, `-f <(...)`: a pipe has no name
            return "-"
        try:
            return str(self.dockerfile.resolve().relative_to(self.context.root))
        except ValueError:
            return self.dockerfile.name


def attach(evaluations: list[Evaluation], options: AttestOptions, facts: BuildFacts) -> list[Image]:
    """Each platform's image with its attestations (as asked) to write beside it."""
    if not options.any:
        return [item.image for item in evaluations]
    context_digest = facts.context.digest() if options.provenance else ""
    shown = facts.shown_dockerfile
    images = []
    for evaluation in evaluations:
        image = evaluation.image
        made: list[Attestation] = []
        if options.sbom is not None:
            made.append(sbom_attestation(image, options.sbom, __version__, dockerfile=shown))
        if options.provenance is not None:
            made.append(
                provenance_attestation(
                    _record(evaluation, options, facts, context_digest=context_digest)
                )
            )
        images.append(replace(image, attestations=tuple(made)))
    return images


def _record(
    evaluation: Evaluation, options: AttestOptions, facts: BuildFacts, *, context_digest: str
) -> BuildRecord:
    image = evaluation.image
    return BuildRecord(
        dockerfile=facts.shown_dockerfile,
        dockerfile_digest=sha256_digest(facts.dockerfile_text.encode()),
        platform=str(image.config.platform),
        context_digest=context_digest,
        started=facts.started,
        finished=facts.finished,
        version=__version__,
        target=facts.target,
        build_args=facts.build_args,
        materials=evaluation.materials,
        checkout=facts.checkout,
        mode=options.provenance or "min",
        layers=tuple(layer.created_by for layer in image.layers),
    )
