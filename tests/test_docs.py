"""docs/instructions.md shows real explain output: regenerate it and compare."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_instructions_doc_is_up_to_date():
    result = subprocess.run(
        [sys.executable, str(REPO / "docs" / "make_instructions.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
