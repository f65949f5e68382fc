"""Reading bake files: expressions, variables and their environment overrides, inherits,
groups, matrix, compose build sections, --print's shape and --shard's split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pybuild.bake.expressions import Scope, template
from pybuild.bake.plan import read_plan, shard
from pybuild.errors import UsageError

HCL = """
variable "TAG" {
  default = "v1"
}
variable "REPO" {
  default = "reg.test/${lower("PB")}"
}
variable "DEBUG" {
  default = false
}
group "default" {
  targets = ["a", "b"]
}
group "all" {
  targets = ["default", "m"]
}
target "base" {
  context = "ctx"
  platforms = ["linux/amd64", "linux/arm64"]
  args = { X = "1", MODE = DEBUG ? "debug" : "release" }
  labels = { "org.opencontainers.image.source" = "https://example.test/${TAG}" }
}
target "a" {
  inherits = ["base"]
  tags = ["${REPO}/a:${TAG}", "${REPO}/a:${join("-", ["x", upper(TAG)])}"]
}
target "b" {
  inherits = ["base"]
  dockerfile = "b.Dockerfile"
  args = { Y = "2" }
  platforms = ["linux/amd64"]
}
target "m" {
  name = "m-${flavour}-${replace(version, ".", "_")}"
  matrix = {
    flavour = ["slim", "full"]
    version = ["1.0", "2.0"]
  }
  context = "ctx"
  args = { FLAVOUR = flavour }
  tags = ["${REPO}/m:${version}-${flavour}"]
}
"""


@pytest.fixture
def bake_file(tmp_path) -> Path:
    path = tmp_path / "docker-bake.hcl"
    path.write_text(HCL)
    return path


def test_inherits_variables_and_functions(bake_file):
    plan = read_plan([bake_file], {})
    a, b = plan.targets["a"], plan.targets["b"]
    assert a["tags"] == ["reg.test/pb/a:v1", "reg.test/pb/a:x-V1"]
    assert a["platforms"] == ["linux/amd64", "linux/arm64"] and a["context"] == "ctx"
    assert a["args"] == {"X": "1", "MODE": "release"}
    assert b["args"] == {"X": "1", "MODE": "release", "Y": "2"}  # maps merge, key by key
    assert b["platforms"] == ["linux/amd64"] and b["dockerfile"] == "b.Dockerfile"
    assert a["labels"] == {"org.opencontainers.image.source": "https://example.test/v1"}


def test_the_environment_overrides_a_default_in_its_type(bake_file):
    plan = read_plan([bake_file], {"TAG": "v9", "DEBUG": "true"})
    assert plan.targets["a"]["tags"][0] == "reg.test/pb/a:v9"
    assert plan.targets["a"]["args"]["MODE"] == "debug"


def test_a_matrix_makes_one_target_per_combination_and_a_group_of_them(bake_file):
    plan = read_plan([bake_file], {})
    assert plan.select(["m"]) == ["m-slim-1_0", "m-slim-2_0", "m-full-1_0", "m-full-2_0"]
    assert plan.targets["m-full-2_0"]["tags"] == ["reg.test/pb/m:2.0-full"]
    assert plan.targets["m-full-2_0"]["args"] == {"FLAVOUR": "full"}
    assert plan.select(["all"])[:2] == ["a", "b"] and len(plan.select(["all"])) == 6


def test_print_has_buildx_shape_and_shards_split_the_pairs_disjointly(bake_file):
    plan = read_plan([bake_file], {})
    names = plan.select([])
    printed = plan.printed(names)
    assert printed["group"]["default"]["targets"] == ["a", "b"]
    assert json.loads(json.dumps(printed))["target"]["a"]["dockerfile"] == "Dockerfile"
    pairs = plan.pairs(names)
    assert len(pairs) == 3
    for n in (1, 2, 3, 5):
        shares = [shard(pairs, f"{k}/{n}") for k in range(1, n + 1)]
        assert sorted(p for share in shares for p in share) == sorted(pairs)
        assert sum(len(share) for share in shares) == len(pairs)
    one = plan.printed(names, shard(pairs, "1/2"))
    two = plan.printed(names, shard(pairs, "2/2"))
    assert one["target"]["a"]["platforms"] == ["linux/amd64"]
    assert two["target"]["a"]["platforms"] == ["linux/arm64"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('target "a" {\n  tags = ["${NOPE}"]\n}\n', "unknown variable 'NOPE'"),
        ('target "a" {\n  tags = ["${frob(1)}"]\n}\n', "unknown function frob()"),
        ('target "a" {\n  inherits = ["a"]\n}\n', "inherits from itself"),
        ('target "a" {\n  inherits = ["zz"]\n}\n', "not a target"),
        ('target "a" {\n  colour = "blue"\n}\n', "unknown attribute 'colour'"),
        ('target "a" {\n  tags = [\n', "not HCL"),
    ],
)
def test_mistakes_are_one_clear_error(tmp_path, text, message):
    path = tmp_path / "docker-bake.hcl"
    path.write_text(text)
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan = read_plan([path], {})
        plan.select(["a"])


def test_an_unknown_target_names_what_the_file_has(bake_file):
    with pytest.raises(UsageError, match="no target or group 'c'.*a, all, b"):
        read_plan([bake_file], {}).select(["c"])


def test_compose_build_sections_are_targets(tmp_path):
    path = tmp_path / "compose.yaml"
    path.write_text(
        "services:\n"
        "  web:\n"
        "    image: reg.test/web:${WEB_TAG:-1}\n"
        "    build:\n"
        "      context: ./web\n"
        "      args:\n"
        "        A: '1'\n"
        "      platforms: [linux/amd64]\n"
        "  db:\n"
        "    image: postgres\n"
        "  api:\n"
        "    build: ./api\n"
    )
    plan = read_plan([path], {})
    assert sorted(plan.targets) == ["api", "web"]
    assert plan.targets["web"]["tags"] == ["reg.test/web:1"]
    assert plan.targets["web"]["args"] == {"A": "1"}
    assert plan.targets["api"]["context"] == str(tmp_path / "api")  # beside the compose file
    assert plan.select([]) == ["web", "api"]  # every service with a build section


def test_templates_keep_types_and_escape_dollar_braces():
    scope = Scope(lambda name: {"N": 3, "L": ["x", "y"]}[name], "test")
    assert template("${N}", scope) == 3
    assert template("${L}", scope) == ["x", "y"]
    assert template("n=${N + 1}, $${literal}", scope) == "n=4, ${literal}"
    assert template('${N > 2 ? "big" : "small"}', scope) == "big"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('["${[1][3]}"]', "cannot evaluate"),
        ('["${1 + "a"}"]', "cannot evaluate"),
        ('["${10 / 0}"]', "cannot evaluate"),
        ('"r/y:1.0"', "must be a list"),
    ],
)
def test_bad_values_are_one_clear_error(tmp_path, value, message):
    path = tmp_path / "docker-bake.hcl"
    path.write_text(f'target "a" {{\n  tags = {value}\n}}\n')
    with pytest.raises(UsageError, match=message):
        read_plan([path], {})
