"""The `pybuild` command. An unchanged rebuild is answered here from a stat of its inputs
(recording.py) before the CLI, the parser and the evaluator are imported; every other command
goes on to the CLI."""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    from . import recording

    if recording.replay(argv):
        return
    from .cli import main as cli

    cli(args=argv, prog_name="pybuild", obj={"argv": argv})
