"""Real OCI tooling reads the archive: skopeo through both the docker-archive and oci-archive
transports, and finds the tag through the index annotation."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from conftest import IN_CI, SAMPLES
from pybuild import api
from pybuild.outputs.spec import parse_output


@pytest.fixture(scope="module")
def skopeo() -> str:
    found = shutil.which("skopeo")
    if found is None:
        if IN_CI:
            pytest.fail("CI needs skopeo (apt-get install skopeo)")
        pytest.skip("skopeo is not installed (apt-get install skopeo)")
    return found


def inspect(skopeo: str, reference: str, raw: bool = False) -> dict:
    args = [skopeo, "inspect", *(["--config"] if raw else []), reference]
    result = subprocess.run(args, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


def test_skopeo_reads_both_transports(skopeo, tmp_path):
    archive = tmp_path / "greet.tar"
    result = api.build(
        api.BuildOptions(
            context=SAMPLES / "greet",
            tags=("greet:1.0",),
            output=parse_output(str(archive)),
            platform="linux/arm64/v8",
        )
    )
    docker_view = inspect(skopeo, f"docker-archive:{archive}")
    oci_view = inspect(skopeo, f"oci-archive:{archive}:1.0")
    diff_ids = [layer.digest for layer in result.written.layers]
    assert docker_view["Layers"] == oci_view["Layers"] == diff_ids
    assert oci_view["Digest"] == result.written.manifest_digest
    assert (oci_view["Os"], oci_view["Architecture"]) == ("linux", "arm64")
    config = inspect(skopeo, f"oci-archive:{archive}:1.0", raw=True)
    assert config["variant"] == "v8"
    assert config["config"]["Entrypoint"] == ["/opt/greet/bin/greet"]
