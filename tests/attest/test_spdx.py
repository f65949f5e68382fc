"""The SPDX writer: what it writes passes spdx-tools' parser and validator (the library and its
CLI), says what the inventory says, and is the same bytes for the same image."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sbom_samples import (
    BASE,
    COPY,
    DIGEST,
    EMPTY,
    IMAGE,
    INVENTORY,
    NO_LAYERS,
    UNTAGGED,
    file,
    need,
)

from pybuild.attest import spdx
from pybuild.attest.inventory import DescribedImage, Inventory
from pybuild.attest.spdx import (
    PREDICATE_TYPE,
    image_purl,
    spdx_document,
    spdx_license_expression,
)

parse_anything = need("spdx_tools.spdx.parser.parse_anything")
document_validator = need("spdx_tools.spdx.validation.document_validator")
spdx_licensing = need("spdx_tools.common.spdx_licensing").spdx_licensing


def validate(document: dict[str, Any], tmp_path: Path) -> list[str]:
    """The messages of spdx-tools' validator on the document as written to a file."""
    path = tmp_path / "sbom.spdx.json"
    path.write_text(json.dumps(document, indent=2))
    parsed = parse_anything.parse_file(str(path))
    return [m.validation_message for m in document_validator.validate_full_spdx_document(parsed)]


@pytest.mark.parametrize(
    ("inventory", "image"),
    [
        (INVENTORY, IMAGE),
        (INVENTORY, dataclasses.replace(IMAGE, name="")),
        (EMPTY, NO_LAYERS),
        (EMPTY, UNTAGGED),
    ],
)
def test_spdx_tools_finds_nothing_wrong(inventory, image, tmp_path):
    assert validate(spdx_document(inventory, image), tmp_path) == []


def test_the_spdx_tools_cli_validates_it(tmp_path):
    path = tmp_path / "sbom.spdx.json"
    path.write_text(json.dumps(spdx_document(INVENTORY, IMAGE)))
    found = shutil.which("pyspdxtools")
    command = [found] if found else [sys.executable, "-m", "spdx_tools.spdx.clitools.pyspdxtools"]
    result = subprocess.run([*command, "-i", str(path)], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")


def test_the_document_describes_the_image():
    document = spdx_document(INVENTORY, IMAGE)
    assert PREDICATE_TYPE == "https://spdx.dev/Document"
    assert document["name"] == "registry.example:5000/team/app:1.0"
    assert document["creationInfo"]["creators"] == ["Tool: pybuild-0.1.0"]
    assert document["creationInfo"]["created"] == "1970-01-01T00:00:00Z"
    image = document["packages"][0]
    assert (image["SPDXID"], image["versionInfo"]) == ("SPDXRef-Image", DIGEST)
    assert image["primaryPackagePurpose"] == "CONTAINER"
    assert image["externalRefs"][0]["referenceLocator"] == (
        f"pkg:oci/app@sha256%3A{'ab' * 32}"
        "?arch=arm64&repository_url=registry.example:5000/team/app&tag=1.0"
    )
    assert document["relationships"][0] == {
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Image",
    }


@pytest.mark.parametrize(
    ("name", "platform", "query"),
    [
        (
            "docker.io/library/app:1.0",
            "linux/amd64",
            "arch=amd64&repository_url=docker.io/library/app&tag=1.0",
        ),
        ("localhost:5000/app", "linux/arm/v7", "arch=arm&repository_url=localhost:5000/app"),
        (f"ghcr.io/o/app:v1@{DIGEST}", "linux", "repository_url=ghcr.io/o/app&tag=v1"),
    ],
)
def test_the_image_purl_follows_the_oci_type(name, platform, query):
    image = dataclasses.replace(IMAGE, name=name, platform=platform)
    assert image_purl(image) == f"pkg:oci/app@sha256%3A{'ab' * 32}?{query}"


def test_an_untagged_image_is_named_by_its_digest_and_has_no_purl():
    document = spdx_document(EMPTY, UNTAGGED)
    assert document["name"] == document["packages"][0]["name"] == DIGEST
    assert "externalRefs" not in document["packages"][0]
    assert document["documentNamespace"].startswith(
        f"https://pybuild.invalid/spdx/untagged-{'ab' * 32}-"
    )


def test_packages_keep_their_order_licenses_and_suppliers():
    packages = spdx_document(INVENTORY, IMAGE)["packages"][1:]
    assert [p["name"] for p in packages] == [p.name for p in INVENTORY.packages]
    assert [p.get("versionInfo") for p in packages] == [
        "1.2.4-r2",
        "1:2.36-9+deb12u4",
        "2.0",
        "1.0.0",
        "v1.2.3",
        None,
        None,
    ]
    assert [p["licenseDeclared"] for p in packages] == [
        "MIT",
        "NOASSERTION",
        "NOASSERTION",
        "(MIT OR Apache-2.0) AND LicenseRef-Scope",
        "GPL-2.0+",
        "NOASSERTION",
        "NOASSERTION",
    ]
    assert packages[1]["licenseComments"] == "stated as: GPL-2+ and LGPL-2.1+"
    assert [p.get("supplier") for p in packages] == [
        "Person: Natanael Copa (ncopa@alpinelinux.org)",
        "Organization: GNU Libc Maintainers (debian-glibc@lists.debian.org)",
        "Person: Kenneth the author Reitz",
        None,
        None,
        None,
        None,
    ]
    assert packages[0]["comment"] == "found in /lib/apk/db/installed"
    assert packages[0]["externalRefs"] == [
        {
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64",
        }
    ]
    assert all(p["filesAnalyzed"] is False for p in packages)


def test_files_are_sorted_and_say_which_layer_put_them_there():
    document = spdx_document(INVENTORY, IMAGE)
    files = document["files"]
    assert [f["fileName"] for f in files] == sorted(f"./{f.path}" for f in INVENTORY.files)
    echo = next(f for f in files if f["fileName"] == "./bin/echo")
    assert echo["comment"] == f"layer 1 {COPY}: COPY echo /bin/echo (Dockerfile:3)"
    busybox = next(f for f in files if f["fileName"] == "./bin/busybox")
    assert busybox["comment"] == f"layer 0 {BASE}: ADD alpine-minirootfs.tar.gz /"
    assert [c["algorithm"] for c in echo["checksums"]] == ["SHA1", "SHA256"]
    ids = [e["SPDXID"] for e in document["packages"] + files]
    assert len(ids) == len(set(ids))


def test_relationships_tie_packages_to_the_files_they_were_read_from():
    document = spdx_document(INVENTORY, IMAGE)
    name = {e["SPDXID"]: e.get("fileName") or e["name"] for e in document["packages"]}
    name |= {f["SPDXID"]: f["fileName"] for f in document["files"]}
    found = {
        (name[r["spdxElementId"]], r["relationshipType"], name[r["relatedSpdxElement"]])
        for r in document["relationships"]
        if r["spdxElementId"] != "SPDXRef-Image" and r["spdxElementId"] != "SPDXRef-DOCUMENT"
    }
    assert found == {
        ("./lib/apk/db/installed", "METAFILE_OF", "musl"),
        ("./var/lib/dpkg/status", "METAFILE_OF", "libc6"),
        ("./var/lib/dpkg/status", "METAFILE_OF", "my package"),
        ("./app/node_modules/@scope/pkg/package.json", "METAFILE_OF", "@scope/pkg"),
        ("./usr/local/bin/app", "CONTAINS", "github.com/example/app"),
    }
    contained = [
        r["relatedSpdxElement"]
        for r in document["relationships"]
        if r["spdxElementId"] == "SPDXRef-Image"
    ]
    assert len(contained) == len(INVENTORY.packages) + len(INVENTORY.files)


def test_a_license_ref_is_declared():
    document = spdx_document(INVENTORY, IMAGE)
    assert [e["licenseId"] for e in document["hasExtractedLicensingInfos"]] == ["LicenseRef-Scope"]
    assert "hasExtractedLicensingInfos" not in spdx_document(EMPTY, UNTAGGED)


def test_the_same_image_gives_the_same_bytes_and_another_a_new_namespace():
    def dumped(inventory: Inventory, image: DescribedImage) -> str:
        return json.dumps(spdx_document(inventory, image), sort_keys=True)

    assert dumped(INVENTORY, IMAGE) == dumped(INVENTORY, dataclasses.replace(IMAGE))
    other = dataclasses.replace(IMAGE, manifest_digest="sha256:" + "cd" * 32)
    namespaces = {
        spdx_document(INVENTORY, IMAGE)["documentNamespace"],
        spdx_document(INVENTORY, other)["documentNamespace"],
        spdx_document(dataclasses.replace(INVENTORY, packages=()), IMAGE)["documentNamespace"],
    }
    assert len(namespaces) == 3


def test_file_ids_do_not_move_when_a_file_is_added():
    def ids(inventory: Inventory) -> dict[str, str]:
        return {f["fileName"]: f["SPDXID"] for f in spdx_document(inventory, IMAGE)["files"]}

    more = dataclasses.replace(INVENTORY, files=(file("a/first", 0), *INVENTORY.files))
    assert ids(more).items() >= ids(INVENTORY).items()


def test_layers_must_match_the_image():
    with pytest.raises(ValueError, match="2 layers, the image 0"):
        spdx_document(INVENTORY, UNTAGGED)


@pytest.mark.parametrize(
    ("stated", "expression"),
    [
        ("MIT", "MIT"),
        ("mit and apache-2.0", "MIT AND Apache-2.0"),
        ("( gpl-2.0-only OR bsd-3-clause ) AND Zlib", "(GPL-2.0-only OR BSD-3-Clause) AND Zlib"),
        ("LGPL-2.1+", "LGPL-2.1+"),
        ("LicenseRef-Mine OR MIT", "LicenseRef-Mine OR MIT"),
        ("GPL-2+", None),  # Debian's name; not on the SPDX list
        ("Apache-2.0+", None),  # the grammar allows it, spdx-tools does not
        ("MIT WITH Classpath-exception-2.0", None),
        ("BSD License", None),
        ("MIT, Apache-2.0", None),
        ("MIT AND", None),
        ("(MIT", None),
        ("MIT)", None),
        ("()", None),
        ("", None),
    ],
)
def test_stated_licenses_become_expressions_only_when_valid(stated, expression):
    assert spdx_license_expression(stated) == expression
    if expression is not None:
        unknown = spdx_licensing.validate(expression).invalid_symbols
        assert [s for s in unknown if not s.startswith("LicenseRef-")] == []


def test_every_listed_license_id_is_one_spdx_tools_knows():
    ids = list(spdx._LICENSE_IDS.values())
    assert len(ids) > 600
    unknown = [i for i in ids if spdx_licensing.validate(i).errors]
    assert unknown == []
