"""The house rules of docs/architecture.md, checked on the source: a wing imports only the wings
below it, only cli.py knows click, only the terminal edge prints, no module reaches for another's
private names, and one module spells where a blob lives."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "src" / "pybuild"
# What each part of the package may import from the rest of it (besides itself).
# Base modules any wing may use: errors, the reporter protocol, the cache location.
BASE = {"errors", "events", "filestat"}
ALLOWED = {
    "errors": set(),
    "events": set(),
    "filestat": set(),
    "recording": {"filestat"},
    "dockerfile": {"errors"},
    "oci": BASE | {"__version__"},  # the registry client names itself in User-Agent
    "build": BASE | {"dockerfile", "oci", "__version__"},
    "outputs": BASE | {"oci"},
    "reports": BASE | {"oci", "build"},
    "attest": BASE | {"oci", "build", "__version__"},  # the SBOM and provenance name pybuild
    "progress": {"events"},
    "api": BASE | {"dockerfile", "build", "oci", "outputs", "reports", "recording", "attest"},
    "bake": BASE | {"api", "oci", "outputs"},  # many builds from one file, through api
    "cli": BASE | {"api", "attest", "bake", "oci", "outputs", "reports", "progress", "__version__"},
    "entry": {"cli", "recording", "__version__"},  # --version, answered before the CLI loads
    "__main__": {"entry"},
    "__init__": set(),
}
# The terminal's edge: what the CLI prints, the progress renderers, and the up-to-date answer
# that prints a recorded build's lines before the CLI loads.
MAY_PRINT = {"cli.py", "entry.py", "progress.py", "recording.py"}


def modules() -> list[tuple[Path, str, ast.Module]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        part = parts[0] if len(parts) > 1 else path.stem
        found.append((path, part, ast.parse(path.read_text(), str(path))))
    return found


def imported(path: Path, node: ast.ImportFrom) -> list[str]:
    """The top-level parts of pybuild a relative import names."""
    package = list(path.relative_to(PACKAGE).parts[:-1])
    base = package[: len(package) - (node.level - 1)]
    if node.module:
        return [(base + node.module.split("."))[0]]
    return [base[0]] if base else [alias.name for alias in node.names]


def test_wings_import_only_the_wings_below_them():
    wrong = []
    for path, part, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                for target in imported(path, node):
                    if target != part and target not in ALLOWED[part]:
                        wrong.append(f"{path.relative_to(PACKAGE)} imports {target}")
            if isinstance(node, ast.ImportFrom) and not node.level:
                assert not (node.module or "").startswith("pybuild"), (
                    f"{path}: use relative imports"
                )
    assert wrong == []


def test_only_the_cli_knows_click_and_no_module_takes_private_names():
    for path, _, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
                if node.level:
                    private = [
                        a.name
                        for a in node.names
                        if a.name.startswith("_") and not a.name.startswith("__")
                    ]
                    assert private == [], f"{path} imports private {private}"
            else:
                continue
            if path.name != "cli.py":
                assert not any(name.split(".")[0] == "click" for name in names), (
                    f"{path} imports click"
                )


def test_the_library_never_prints():
    for path, _, tree in modules():
        if path.name in MAY_PRINT and path.parent == PACKAGE:
            continue
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "print"
        ]
        assert calls == [], f"{path} prints (line {calls[0].lineno if calls else 0})"
        for stream in ("sys.stderr", "sys.stdout"):
            assert stream not in path.read_text(), f"{path} uses {stream}"


def test_one_module_spells_where_a_blob_lives():
    spelled = [
        path.relative_to(PACKAGE)
        for path, _, _ in modules()
        if re.search(r"""blobs/|["']blobs["']""", path.read_text())
    ]
    assert spelled == [Path("oci/layout.py")]


def test_no_function_takes_more_than_three_positional_arguments():
    long = []
    for path, _, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names = [a.arg for a in node.args.posonlyargs + node.args.args]
                if len([name for name in names if name not in ("self", "cls")]) > 3:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert long == []
