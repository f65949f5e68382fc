"""Foreign documents are normalised once, at the reader: Docker's nulls and unknown fields never
reach the evaluator, and what pybuild writes keeps its exact bytes."""

from __future__ import annotations

import json

import pytest

from images import DOCKER_NULL_CONFIG
from pybuild.oci.model import (
    Descriptor,
    ImageConfig,
    Index,
    InvalidDocument,
    Manifest,
    RunConfig,
    canonical_json,
)
from pybuild.oci.platform import Platform


def test_docker_nulls_and_unknown_fields_become_absent():
    config = ImageConfig.from_json(json.dumps(DOCKER_NULL_CONFIG).encode())
    assert config.run == RunConfig() and config.run.to_json() == {}
    assert config.diff_ids == () and config.history == ()
    run = config.run.with_volumes(["/data"]).with_labels({"a": "b"}).with_ports(["80/tcp"])
    assert run.with_env("K", "v").to_json() == {
        "Volumes": {"/data": {}},
        "Labels": {"a": "b"},
        "ExposedPorts": {"80/tcp": {}},
        "Env": ["K=v"],
    }


def test_env_is_replaced_in_place_and_empty_lists_of_our_own_are_kept():
    run = RunConfig(env=("A=1", "B=2")).with_env("A", "3")
    assert run.env == ("A=3", "B=2") and RunConfig(cmd=()).to_json() == {"Cmd": []}


def test_documents_round_trip_to_the_same_bytes():
    manifest = Manifest(
        Descriptor("application/vnd.oci.image.config.v1+json", "sha256:" + "a" * 64, 2),
        (Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", "sha256:" + "b" * 64, 3),),
    )
    assert Manifest.from_json(manifest.to_json()).to_json() == manifest.to_json()
    docker = manifest.with_docker_media_types()
    assert docker.layers[0].media_type == "application/vnd.docker.image.rootfs.diff.tar.gzip"
    config = ImageConfig(
        Platform("linux", "arm64", "v8"), "1970-01-01T00:00:00Z", RunConfig(user="1")
    )
    assert json.loads(config.to_json(["sha256:x"]))["variant"] == "v8"
    assert ImageConfig.from_json(config.to_json([])).to_json([]) == config.to_json([])
    assert canonical_json({"b": 1, "a": [1]}) == b'{"a":[1],"b":1}'


def test_an_index_chooses_the_platform_and_says_what_it_offers():
    entry = {
        "mediaType": "x",
        "digest": "sha256:" + "c" * 64,
        "size": 1,
        "platform": {"os": "linux", "architecture": "arm", "variant": "v7"},
    }
    index = Index.from_json({"manifests": [entry]})
    assert index.for_platform(Platform("linux", "arm", "v7"), "img").digest == entry["digest"]
    with pytest.raises(InvalidDocument, match="offers linux/arm/v7"):
        index.for_platform(Platform("linux", "amd64"), "img")
    with pytest.raises(InvalidDocument, match="without a sha256 digest"):
        Index.from_json({"manifests": [{"digest": "md5:x", "size": 1}]})


def test_odd_values_in_foreign_configs_read_as_docker_means_them():
    run = RunConfig.from_json(
        {"Labels": {"a": None}, "Env": ["A=1", None], "Healthcheck": {}, "Cmd": []}
    )
    assert run.labels == {"a": ""} and run.env == ("A=1",)
    assert run.healthcheck is None and run.cmd is None
