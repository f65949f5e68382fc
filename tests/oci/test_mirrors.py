"""Mirrors as Podman's registries.conf and dockerd's --registry-mirror give them: tried in
order before the registry itself; and a real pull-through cache that serves an image whose
own registry is down."""

from __future__ import annotations

import pytest

from conftest import SAMPLES
from pybuild import api
from pybuild.errors import PybuildError
from pybuild.oci.mirrors import Endpoint, MirrorError, endpoints, read_rules
from pybuild.oci.reference import parse_reference
from pybuild.oci.registry import RegistryAccess
from pybuild.oci.validate import validate_archive
from pybuild.outputs.spec import parse_output
from servers import free_port, start_registry

CONF = """
[[registry]]
prefix = "example.test/team"
location = "internal.test:5000/mirror-of-team"
[[registry.mirror]]
location = "cache.test:5000/team"
insecure = true

[[registry]]
location = "example.test"

[[registry]]
prefix = "blocked.test"
blocked = true
"""


def test_rules_choose_the_longest_prefix_and_mirrors_come_first(tmp_path):
    conf = tmp_path / "registries.conf"
    conf.write_text(CONF)
    rules = read_rules(conf)
    assert endpoints(parse_reference("example.test/team/app:1"), rules) == [
        Endpoint("cache.test:5000", "team/app", insecure=True, mirror=True),
        Endpoint("internal.test:5000", "mirror-of-team/app"),
    ]
    assert endpoints(parse_reference("example.test/other/app:1"), rules) == [
        Endpoint("example.test", "other/app")
    ]
    with pytest.raises(MirrorError, match="blocked by registries.conf"):
        endpoints(parse_reference("blocked.test/x:1"), rules)
    assert endpoints(parse_reference("alpine:3"), rules, ("hub-mirror.test",)) == [
        Endpoint("hub-mirror.test", "library/alpine", mirror=True),
        Endpoint("docker.io", "library/alpine"),
    ]
    assert read_rules(tmp_path / "missing.conf") == ()
    (tmp_path / "bad.conf").write_text("[[registry]\n")
    with pytest.raises(MirrorError, match="cannot read"):
        read_rules(tmp_path / "bad.conf")


def test_a_pull_through_cache_serves_an_image_whose_registry_is_down(
    open_registry, tmp_path, monkeypatch
):
    ref = f"{open_registry}/demo/mirrored:1"
    api.build(
        api.BuildOptions(
            context=SAMPLES / "greet",
            tags=(ref,),
            cache_dir=None,
            output=parse_output(None, push=True),
        )
    )
    (tmp_path / "cache").mkdir()
    process, cache = start_registry(
        tmp_path / "cache", auth=False, mirror_of=f"http://{open_registry}"
    )
    down = f"127.0.0.1:{free_port()}"  # nothing listens there
    conf = tmp_path / "registries.conf"
    conf.write_text(
        f'[[registry]]\nprefix = "{down}"\nlocation = "{down}"\n'
        f'[[registry.mirror]]\nlocation = "{cache}"\ninsecure = true\n'
    )
    monkeypatch.setenv("CONTAINERS_REGISTRIES_CONF", str(conf))
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f'FROM {down}/demo/mirrored:1\nCMD ["mirrored"]\n')
    out = tmp_path / "out.tar"
    try:
        api.build(
            api.BuildOptions(
                context=context,
                tags=("m:1",),
                cache_dir=None,
                registry=RegistryAccess(),
                output=parse_output(str(out)),
            )
        )
        assert validate_archive(out).config["config"]["Cmd"] == ["mirrored"]
        conf.write_text(f'[[registry]]\nprefix = "{down}"\nlocation = "{down}"\n')
        with pytest.raises(PybuildError, match=f"cannot reach registry {down}"):
            api.build(
                api.BuildOptions(
                    context=context,
                    tags=("m:1",),
                    cache_dir=None,
                    output=parse_output(str(tmp_path / "none.tar")),
                )
            )
    finally:
        process.terminate()
