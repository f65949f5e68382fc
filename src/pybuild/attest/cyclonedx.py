"""A CycloneDX 1.6 JSON BOM of an image, written from its inventory.

Written here rather than with cyclonedx-python-lib, which would bring a dozen packages
(py-serializable, license-expression, ...) to the build for a few dozen lines of JSON whose bytes
we need reproducible; the tests validate what this writes against the schema with that library."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from .inventory import DescribedImage, ImageFile, Inventory, Package
from .spdx import image_purl, package_key, spdx_license_expression, stable_refs

PREDICATE_TYPE = "https://cyclonedx.org/bom"

# The uuid5 namespace of pybuild's serial numbers: itself a uuid5 of a name only pybuild uses.
_SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://pybuild.invalid/cyclonedx")


def cyclonedx_document(inventory: Inventory, image: DescribedImage) -> dict[str, Any]:
    """A CycloneDX 1.6 JSON BOM (as a dict ready for json.dumps) of the image: a library per
    package, a file per file of the image with the layer that put it there. Equal inputs give
    equal BOMs: the serial number and every bom-ref come from the content."""
    if len(inventory.layers) != len(image.diff_ids):
        raise ValueError(
            f"the inventory has {len(inventory.layers)} layers, the image {len(image.diff_ids)}"
        )
    files = sorted(inventory.files, key=lambda f: (f.path, f.layer))
    layers = [
        [
            _property("pybuild:layer", diff_id),
            _property("pybuild:created-by", source.created_by),
            *([_property("pybuild:location", source.location)] if source.location else []),
        ]
        for source, diff_id in zip(inventory.layers, image.diff_ids, strict=True)
    ]
    package_refs = stable_refs(
        (f"package-{p.ecosystem}-", package_key(p)) for p in inventory.packages
    )
    file_refs = stable_refs(("file-", f.path) for f in files)

    image_component: dict[str, Any] = {
        "type": "container",
        "bom-ref": f"image-{image.manifest_digest.partition(':')[2][:16]}",
        "name": image.name or image.manifest_digest,
        "version": image.manifest_digest,
    }
    purl = image_purl(image)
    if purl:
        image_component["purl"] = purl
    image_component["properties"] = [_property("pybuild:platform", image.platform)]

    document: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": "",
        "version": 1,
        "metadata": {
            "timestamp": image.created,
            "tools": {
                "components": [
                    {"type": "application", "name": "pybuild", "version": image.tool_version}
                ]
            },
            "component": image_component,
        },
        "components": [
            *(_library(p, ref) for p, ref in zip(inventory.packages, package_refs, strict=True)),
            *(_file(f, ref, layers[f.layer]) for f, ref in zip(files, file_refs, strict=True)),
        ],
    }
    # Every BOM should have its own serial number: it comes from the manifest digest and a digest
    # of everything else in the BOM, so a later pybuild that finds more gets a new one.
    body = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    serial = uuid.uuid5(_SERIAL_NAMESPACE, f"{image.manifest_digest} {body}")
    document["serialNumber"] = serial.urn
    return document


def _library(package: Package, ref: str) -> dict[str, Any]:
    component: dict[str, Any] = {"type": "library", "bom-ref": ref}
    if package.supplier.strip():
        component["supplier"] = {"name": " ".join(package.supplier.split())}
    component["name"] = package.name
    if package.version:
        component["version"] = package.version
    if package.description:
        component["description"] = package.description
    licenses = _licenses(package.licenses)
    if licenses:
        component["licenses"] = licenses
    if package.purl:
        component["purl"] = package.purl
    component["properties"] = [
        _property("pybuild:found-in", f"/{package.found_in}"),
        _property("pybuild:ecosystem", package.ecosystem),
    ]
    return component


def _licenses(stated: str) -> list[dict[str, Any]]:
    """An SPDX id as an id, an SPDX expression as an expression, anything else by its name: the
    schema allows only ids of the SPDX list in `id`, and an expression only alone."""
    if not stated.strip():
        return []
    expression = spdx_license_expression(stated)
    if expression is None:
        return [{"license": {"name": stated.strip()}}]
    if " " in expression or "(" in expression or expression.startswith("LicenseRef-"):
        return [{"expression": expression}]
    return [{"license": {"id": expression}}]


def _file(file: ImageFile, ref: str, layer: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "type": "file",
        "bom-ref": ref,
        "name": f"/{file.path}",
        "hashes": [
            {"alg": "SHA-1", "content": file.sha1},
            {"alg": "SHA-256", "content": file.sha256},
        ],
        "properties": [dict(p) for p in layer],
    }


def _property(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value}
