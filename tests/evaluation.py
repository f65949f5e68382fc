"""evaluate() for tests: the image seen the way tests check it, with the run config in Docker's
JSON vocabulary (`config["Env"]`), its layers and its history."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pybuild.build.evaluator import evaluate
from pybuild.build.timestamps import Timestamps


def evaluated(
    dockerfile: Any,
    context: Any,
    platform: Any,
    timestamps: Timestamps | None = None,
    **options: Any,
) -> SimpleNamespace:
    result = evaluate(
        dockerfile, context, platform=platform, timestamps=timestamps or Timestamps(), **options
    )
    image = result.image
    return SimpleNamespace(
        layers=image.layers,
        config=image.config.run.to_json(),
        history=image.config.history,
        evaluation=result,
    )
