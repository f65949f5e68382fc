"""The CycloneDX writer: what it writes passes the CycloneDX 1.6 JSON schema (strict, through
cyclonedx-python-lib), says what the inventory says, and is the same bytes for the same image."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest
import sbom_samples
from sbom_samples import BASE, COPY, DIGEST, EMPTY, INVENTORY, need

from pybuild.attest.cyclonedx import PREDICATE_TYPE, cyclonedx_document
from pybuild.attest.inventory import DescribedImage, Inventory

IMAGE = dataclasses.replace(
    sbom_samples.IMAGE, name="docker.io/library/app:1.0", platform="linux/amd64"
)
UNTAGGED = dataclasses.replace(IMAGE, name="", diff_ids=())

validation_json = need("cyclonedx.validation.json")
schema = need("cyclonedx.schema")
packageurl = need("packageurl")  # cyclonedx-python-lib's own dependency


def validation_error(document: dict[str, Any]) -> object:
    """What the strict CycloneDX 1.6 schema validator finds wrong: None when nothing."""
    validator = validation_json.JsonStrictValidator(schema.SchemaVersion.V1_6)
    return validator.validate_str(json.dumps(document))


@pytest.mark.parametrize(
    ("inventory", "image"),
    [
        (INVENTORY, IMAGE),
        (INVENTORY, dataclasses.replace(IMAGE, name="")),
        (EMPTY, dataclasses.replace(IMAGE, diff_ids=())),
        (EMPTY, UNTAGGED),
    ],
)
def test_the_strict_schema_validator_finds_nothing_wrong(inventory, image):
    assert validation_error(cyclonedx_document(inventory, image)) is None


def test_the_validator_does_catch_a_wrong_bom():
    document = cyclonedx_document(INVENTORY, IMAGE)
    document["components"][0]["licenses"] = [{"license": {"id": "GPL-2+"}}]
    assert validation_error(document) is not None


def test_the_bom_describes_the_image():
    document = cyclonedx_document(INVENTORY, IMAGE)
    assert PREDICATE_TYPE == "https://cyclonedx.org/bom"
    assert (document["bomFormat"], document["specVersion"], document["version"]) == (
        "CycloneDX",
        "1.6",
        1,
    )
    assert re.fullmatch(
        r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        document["serialNumber"],
    )
    metadata = document["metadata"]
    assert metadata["timestamp"] == "1970-01-01T00:00:00Z"
    assert metadata["tools"] == {
        "components": [{"type": "application", "name": "pybuild", "version": "0.1.0"}]
    }
    image = metadata["component"]
    assert (image["type"], image["name"], image["version"]) == (
        "container",
        "docker.io/library/app:1.0",
        DIGEST,
    )
    assert image["purl"] == (
        f"pkg:oci/app@sha256%3A{'ab' * 32}?arch=amd64&repository_url=docker.io/library/app&tag=1.0"
    )
    purl = packageurl.PackageURL.from_string(image["purl"])
    assert (purl.type, purl.name, purl.version, purl.qualifiers) == (
        "oci",
        "app",
        DIGEST,
        {"arch": "amd64", "repository_url": "docker.io/library/app", "tag": "1.0"},
    )


def test_an_untagged_image_is_named_by_its_digest_and_has_no_purl():
    image = cyclonedx_document(EMPTY, UNTAGGED)["metadata"]["component"]
    assert image["name"] == DIGEST
    assert "purl" not in image


def test_packages_are_libraries_in_their_order_with_their_licenses():
    libraries = [
        c for c in cyclonedx_document(INVENTORY, IMAGE)["components"] if c["type"] == "library"
    ]
    assert [(c["name"], c.get("version"), c["purl"]) for c in libraries] == [
        (p.name, p.version or None, p.purl) for p in INVENTORY.packages
    ]
    assert [c.get("licenses") for c in libraries] == [
        [{"license": {"id": "MIT"}}],
        [{"license": {"name": "GPL-2+ and LGPL-2.1+"}}],
        [{"license": {"name": "Apache Software License"}}],
        [{"expression": "(MIT OR Apache-2.0) AND LicenseRef-Scope"}],
        [{"license": {"id": "GPL-2.0+"}}],
        None,
        None,
    ]
    assert libraries[0]["supplier"] == {"name": "Natanael Copa <ncopa@alpinelinux.org>"}
    assert libraries[0]["description"] == "the musl c library"
    assert libraries[0]["properties"] == [
        {"name": "pybuild:found-in", "value": "/lib/apk/db/installed"},
        {"name": "pybuild:ecosystem", "value": "apk"},
    ]


def test_files_are_sorted_and_say_which_layer_put_them_there():
    document = cyclonedx_document(INVENTORY, IMAGE)
    files = [c for c in document["components"] if c["type"] == "file"]
    assert [f["name"] for f in files] == sorted(f"/{f.path}" for f in INVENTORY.files)
    echo = next(f for f in files if f["name"] == "/bin/echo")
    assert echo["hashes"] == [
        {"alg": "SHA-1", "content": f"{len('bin/echo') + 1:040x}"},
        {"alg": "SHA-256", "content": f"{len('bin/echo'):064x}"},
    ]
    assert echo["properties"] == [
        {"name": "pybuild:layer", "value": COPY},
        {"name": "pybuild:created-by", "value": "COPY echo /bin/echo"},
        {"name": "pybuild:location", "value": "Dockerfile:3"},
    ]
    busybox = next(f for f in files if f["name"] == "/bin/busybox")
    assert busybox["properties"] == [
        {"name": "pybuild:layer", "value": BASE},
        {"name": "pybuild:created-by", "value": "ADD alpine-minirootfs.tar.gz /"},
    ]
    refs = [c["bom-ref"] for c in [document["metadata"]["component"], *document["components"]]]
    assert len(refs) == len(set(refs))


def test_the_same_image_gives_the_same_bytes_and_another_a_new_serial():
    def dumped(inventory: Inventory, image: DescribedImage) -> str:
        return json.dumps(cyclonedx_document(inventory, image), sort_keys=True)

    assert dumped(INVENTORY, IMAGE) == dumped(INVENTORY, dataclasses.replace(IMAGE))
    other = dataclasses.replace(IMAGE, manifest_digest="sha256:" + "cd" * 32)
    serials = {
        cyclonedx_document(INVENTORY, IMAGE)["serialNumber"],
        cyclonedx_document(INVENTORY, other)["serialNumber"],
        cyclonedx_document(dataclasses.replace(INVENTORY, packages=()), IMAGE)["serialNumber"],
    }
    assert len(serials) == 3


def test_layers_must_match_the_image():
    with pytest.raises(ValueError, match="2 layers, the image 0"):
        cyclonedx_document(INVENTORY, UNTAGGED)
