"""Which attestations a build attaches, as buildx spells them: `--sbom[=VALUE]`,
`--provenance[=VALUE]` and `--attest type=...` parsed by parse_attest, and the command line
around it (a bare `--sbom` is a flag, never the context's value; `--sbom=V` is rewritten)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pybuild.attest.options import AttestOptions, parse_attest
from pybuild.cli import main as cli
from pybuild.cli import with_attest_values
from pybuild.errors import UsageError
from pybuild.oci.validate import validate_archive

SPDX = "https://spdx.dev/Document"
CYCLONEDX = "https://cyclonedx.org/bom"
SLSA = "https://slsa.dev/provenance/v1"


@pytest.mark.parametrize(
    "attest, sbom, provenance, expected",
    [
        ((), None, None, (None, None)),
        # Bare flags (the CLI passes "" for a bare --sbom / --provenance).
        ((), "", None, ("spdx", None)),
        ((), None, "", (None, "min")),
        ((), "", "", ("spdx", "min")),
        # true and false, in every spelling.
        ((), "true", "true", ("spdx", "min")),
        ((), "1", "on", ("spdx", "min")),
        ((), "false", "false", (None, None)),
        ((), "0", "off", (None, None)),
        ((), "FALSE", "No", (None, None)),
        # format= and mode=, and the bare value.
        ((), "format=spdx", None, ("spdx", None)),
        ((), "format=cyclonedx", None, ("cyclonedx", None)),
        ((), "cyclonedx", None, ("cyclonedx", None)),
        ((), "CycloneDX", None, ("cyclonedx", None)),
        ((), None, "mode=min", (None, "min")),
        ((), None, "mode=max", (None, "max")),
        ((), None, "max", (None, "max")),
        ((), "true,format=cyclonedx", "true,mode=max", ("cyclonedx", "max")),
        # disabled=
        ((), "disabled=true", "disabled=true", (None, None)),
        ((), "format=cyclonedx,disabled=false", "mode=max,disabled=false", ("cyclonedx", "max")),
        # --attest, alone and repeated (the later one wins).
        (("type=sbom",), None, None, ("spdx", None)),
        (("type=provenance",), None, None, (None, "min")),
        (
            ("type=sbom,format=cyclonedx", "type=provenance,mode=max"),
            None,
            None,
            ("cyclonedx", "max"),
        ),
        (("type=sbom,disabled=true",), None, None, (None, None)),
        (("type=sbom", "type=sbom,disabled=true"), None, None, (None, None)),
        (
            ("type=sbom,disabled=true", "type=sbom,format=cyclonedx"),
            None,
            None,
            ("cyclonedx", None),
        ),
        ((" type = sbom , format = cyclonedx ",), None, None, ("cyclonedx", None)),
        # --sbom and --provenance are read after every --attest: they win.
        (("type=sbom,format=cyclonedx",), "", None, ("spdx", None)),
        (("type=sbom,format=cyclonedx",), "false", None, (None, None)),
        (("type=sbom",), "format=cyclonedx", None, ("cyclonedx", None)),
        (("type=provenance,mode=max",), None, "", (None, "min")),
        (("type=provenance,mode=max",), None, "false", (None, None)),
        (("type=provenance,disabled=true",), None, "mode=max", (None, "max")),
    ],
)
def test_parse_attest(attest, sbom, provenance, expected):
    parsed = parse_attest(attest, sbom=sbom, provenance=provenance)
    assert (parsed.sbom, parsed.provenance) == expected
    assert parsed.any == (expected != (None, None))
    assert parsed.git_labels is False


def test_git_labels_is_carried_and_is_not_an_attestation():
    parsed = parse_attest(git_labels=True)
    assert parsed == AttestOptions(None, None, True)
    assert not parsed.any


@pytest.mark.parametrize(
    "attest, sbom, provenance, said",
    [
        (("type=sbom,generator=docker/buildkit-syft-scanner",), None, None, ("generator",)),
        ((), "generator=docker/scout-sbom-indexer", None, ("generator",)),
        (("type=sbom,colour=blue",), None, None, ("colour",)),
        ((), None, "mode=max,builder-id=x", ("builder-id",)),
        (("type=sbom,format=xml",), None, None, ("format", "spdx", "cyclonedx")),
        ((), "format=syft-json", None, ("format", "spdx", "cyclonedx")),
        ((), "maybe", None, ("format", "spdx", "cyclonedx")),
        ((), None, "mode=full", ("mode", "min", "max")),
        ((), None, "full", ("mode", "min", "max")),
        (("type=provenance,mode=everything",), None, None, ("mode", "min", "max")),
        (("type=vex",), None, None, ("type=sbom", "type=provenance")),
        (("format=spdx",), None, None, ("type=sbom", "type=provenance")),
        (("",), None, None, ("type=sbom", "type=provenance")),
    ],
)
def test_bad_attestations_are_usage_errors_that_quote_the_input(attest, sbom, provenance, said):
    with pytest.raises(UsageError) as raised:
        parse_attest(attest, sbom=sbom, provenance=provenance)
    message = str(raised.value)
    assert all(word in message for word in said), message
    flag = "--attest" if attest else "--sbom" if sbom is not None else "--provenance"
    given = attest[0] if attest else sbom if sbom is not None else provenance
    assert message.startswith(f"{flag} {given!r}")
    assert "\n" not in message


@pytest.mark.parametrize("given", [{"sbom": "disabled=maybe"}, {"provenance": "disabled=yesss"}])
def test_an_unknown_disabled_value_is_refused(given):
    with pytest.raises(UsageError, match="disabled"):
        parse_attest(**given)


@pytest.mark.parametrize(
    "given",
    [{"sbom": "mode=max"}, {"attest": ("type=provenance,format=cyclonedx",)}],
)
def test_a_key_of_the_other_attestation_type_is_refused(given):
    with pytest.raises(UsageError):
        parse_attest(**given)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--sbom", "."], ["--attest", "type=sbom", "."]),
        (["--provenance", "ctx"], ["--attest", "type=provenance", "ctx"]),
        (["--sbom=false", "."], ["--attest", "type=sbom,false", "."]),
        (["--provenance=mode=max"], ["--attest", "type=provenance,mode=max"]),
        (
            ["--sbom=format=cyclonedx,disabled=true"],
            ["--attest", "type=sbom,format=cyclonedx,disabled=true"],
        ),
        (["-t", "x", "--", "--sbom=false"], ["-t", "x", "--", "--sbom=false"]),
        (["--sbomx=1", "--attest", "type=sbom"], ["--sbomx=1", "--attest", "type=sbom"]),
    ],
)
def test_with_attest_values_rewrites_the_flags_of_build_in_place(args, expected):
    assert with_attest_values(["build", *args]) == ["build", *expected]


def test_other_commands_keep_their_flags():
    assert with_attest_values(["inspect", "--sbom", "x.tar"]) == ["inspect", "--sbom", "x.tar"]


# --- the command line ------------------------------------------------------------------------


def pybuild(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The real command, in its own process (what a user runs)."""
    environment = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    return subprocess.run(
        [sys.executable, "-m", "pybuild", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
    )


def in_process(*args: str) -> Result:
    """The command line in this process (faster): its exit code, stdout and stderr."""
    return CliRunner().invoke(cli, list(args), env={"SOURCE_DATE_EPOCH": None})


@pytest.fixture
def context(tmp_path: Path) -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a.txt").write_text("a\n")
    (context / "Dockerfile").write_text("FROM scratch\nARG V=1\nCOPY a.txt /a\n")
    return context


def attached(archive: Path) -> dict[str, dict]:
    """The statements attached in an OCI archive, by predicate type."""
    with tarfile.open(archive) as tar:

        def read(digest: str) -> dict:
            return json.loads(tar.extractfile("blobs/sha256/" + digest.split(":")[1]).read())

        top = json.loads(tar.extractfile("index.json").read())
        (entry,) = top["manifests"]
        if entry["mediaType"] != "application/vnd.oci.image.index.v1+json":
            return {}
        found = {}
        for item in read(entry["digest"])["manifests"]:
            if item.get("annotations", {}).get("vnd.docker.reference.type"):
                for layer in read(item["digest"])["layers"]:
                    found[layer["annotations"]["in-toto.io/predicate-type"]] = read(layer["digest"])
        return found


def test_a_bare_sbom_flag_leaves_the_context_to_the_context(context, tmp_path):
    out = tmp_path / "o.tar"
    result = pybuild("--sbom", ".", "-o", f"type=oci,dest={out}", cwd=context)
    assert result.returncode == 0, result.stderr
    validate_archive(out)
    assert set(attached(out)) == {SPDX}


def test_a_bare_provenance_flag_before_the_context(context, tmp_path, monkeypatch):
    monkeypatch.chdir(context)
    out = tmp_path / "o.tar"
    result = in_process("build", "--provenance", ".", "-o", f"type=oci,dest={out}")
    assert result.exit_code == 0, result.output
    validate_archive(out)
    assert set(attached(out)) == {SLSA}


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["--sbom=false"], {}),
        (["--sbom=false", "--provenance=false"], {}),
        (["--sbom=format=cyclonedx"], {CYCLONEDX: None}),
        (["--sbom=cyclonedx", "--provenance=mode=max"], {CYCLONEDX: None, SLSA: "max"}),
        (["--provenance=mode=max"], {SLSA: "max"}),
        (["--provenance=max"], {SLSA: "max"}),
        (["--attest", "type=provenance"], {SLSA: "min"}),
        (["--attest=type=sbom,disabled=true", "--provenance"], {SLSA: "min"}),
        # The valued spellings become --attest items, in the order given: the later one wins.
        (["--attest", "type=sbom,format=cyclonedx", "--sbom=false"], {}),
        (["--sbom=false", "--attest", "type=sbom"], {SPDX: None}),
        (["--attest", "type=sbom,format=cyclonedx", "--sbom"], {SPDX: None}),
    ],
)
def test_valued_flags_on_the_command_line(context, tmp_path, flags, expected):
    out = tmp_path / "o.tar"
    result = in_process(*flags, "-o", f"type=oci,dest={out}", str(context))
    assert result.exit_code == 0, result.output
    validate_archive(out)
    found = attached(out)
    assert set(found) == set(expected)
    for kind, mode in expected.items():
        if mode is not None:
            assert found[kind]["predicate"]["buildDefinition"]["internalParameters"]["mode"] == mode


def test_attestations_with_a_bundle_output_fail_in_one_line_and_write_nothing(context, tmp_path):
    dest = tmp_path / "D"
    result = pybuild("--sbom", "-o", f"type=bundle,dest={dest}", str(context))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "type=bundle" in lines[0]
    assert "Traceback" not in result.stderr
    assert not dest.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ctx"]


@pytest.mark.parametrize(
    "flags, said",
    [
        (["--provenance", "-o", "type=bundle,dest={dest}"], ("type=bundle",)),
        (["--attest", "type=sbom,generator=x", "-o", "type=oci,dest={dest}"], ("generator",)),
        (["--sbom=format=xml", "-o", "type=oci,dest={dest}"], ("format", "spdx", "cyclonedx")),
        (["--provenance=mode=full", "-o", "type=oci,dest={dest}"], ("mode", "min", "max")),
        (["--attest", "type=vex", "-o", "type=oci,dest={dest}"], ("type=sbom", "type=provenance")),
    ],
)
def test_refused_attestations_are_one_error_line(context, tmp_path, flags, said):
    dest = tmp_path / "D"
    result = in_process(*[flag.format(dest=dest) for flag in flags], str(context))
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # not an exception's traceback
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert all(word in lines[0] for word in said), lines[0]
    assert not dest.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ctx"]
