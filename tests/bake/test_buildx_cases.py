"""buildx's own bake tests, restated as data (tests/data/bake-cases.json and its README): the
same HCL must resolve to the values buildx's tests assert."""

from __future__ import annotations

import json

import pytest

from conftest import REPO
from pybuild.bake.plan import read_plan

CASES = json.loads((REPO / "tests" / "data" / "bake-cases.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_buildx_bake_case(case, tmp_path):
    path = tmp_path / "docker-bake.hcl"
    path.write_text(case["hcl"])
    plan = read_plan([path], case["env"])
    selected = plan.select(case["targets"])
    for name, expected in case["expect"].items():
        assert name in selected, f"{name} not among {selected}"
        found = plan.targets[name]
        for key, value in expected.items():
            assert found.get(key) == value, f"{name}.{key}: {found.get(key)!r} != {value!r}"
