"""What attestations a build attaches, parsed once from buildx's spellings: `--sbom[=VALUE]`,
`--provenance[=VALUE]` and `--attest type=sbom|provenance,...`."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError

SBOM_FORMATS = ("spdx", "cyclonedx")
PROVENANCE_MODES = ("min", "max")
TRUE = ("", "true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")


@dataclass(frozen=True)
class AttestOptions:
    sbom: str | None = None  # None: no SBOM; else its format, spdx or cyclonedx
    provenance: str | None = None  # None: no provenance; else its mode, min or max
    git_labels: bool = False  # add org.opencontainers.image.source/revision from git

    @property
    def any(self) -> bool:
        return self.sbom is not None or self.provenance is not None


def _fields(text: str, flag: str, allowed: tuple[str, ...]) -> dict[str, str]:
    """`k=v,...` (a bare word under the key "") with only the `allowed` keys."""
    fields: dict[str, str] = {}
    for part in filter(None, text.split(",")):
        key, sep, value = part.partition("=")
        if not sep:  # a bare word: true/false, or the format or mode itself
            key, value = "", part
        fields[key.strip().lower()] = value.strip()
    unknown = sorted(set(fields) - {"", "type", "disabled", *allowed})
    if unknown:
        why = (
            " (pybuild reads the files itself: no generator image)"
            if "generator" in unknown
            else ""
        )
        raise UsageError(
            f"{flag} {text!r}: {', '.join(unknown)} is not an option here (it takes "
            f"{', '.join(allowed)} and disabled){why}"
        )
    return fields


def _chosen(text: str, flag: str, *, key: str, choices: tuple[str, ...]) -> str | None:
    """What one attestation item asks for: None when turned off (`false`, `disabled=true`),
    else the format or mode (`KEY=VALUE`, a bare VALUE, or the first choice for `true`)."""
    fields = _fields(text, flag, (key,))
    word = fields.pop("", "true").lower()
    disabled = fields.get("disabled", "false").lower()
    if disabled not in TRUE + FALSE:
        raise UsageError(f"{flag} {text!r}: disabled must be true or false")
    if word in FALSE or disabled in TRUE:
        return None
    chosen = fields.get(key) or (word if word not in TRUE else choices[0])
    if chosen not in choices:
        raise UsageError(f"{flag} {text!r}: {key} must be {' or '.join(choices)}")
    return chosen


def parse_attest(
    attest: tuple[str, ...] = (),
    *,
    sbom: str | None = None,
    provenance: str | None = None,
    git_labels: bool = False,
) -> AttestOptions:
    """`--attest` items, then `--sbom`/`--provenance` (None: not given; "" given bare)."""
    made: dict[str, str | None] = {"sbom": None, "provenance": None}
    for item in attest:
        pairs = [part.partition("=") for part in item.split(",")]
        kind = next((v.strip().lower() for k, _, v in pairs if k.strip().lower() == "type"), "")
        if kind == "sbom":
            made["sbom"] = _chosen(item, "--attest", key="format", choices=SBOM_FORMATS)
        elif kind == "provenance":
            made["provenance"] = _chosen(item, "--attest", key="mode", choices=PROVENANCE_MODES)
        else:
            raise UsageError(f"--attest {item!r}: expected type=sbom or type=provenance")
    if sbom is not None:
        made["sbom"] = _chosen(sbom, "--sbom", key="format", choices=SBOM_FORMATS)
    if provenance is not None:
        made["provenance"] = _chosen(
            provenance, "--provenance", key="mode", choices=PROVENANCE_MODES
        )
    return AttestOptions(made["sbom"], made["provenance"], git_labels)
