"""Architecture rules of DESIGN.md, checked on the source: layers import only downwards, Qt stays
in gui/, and importing audiolab loads no Qt, matplotlib or Dask."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import audiolab

PACKAGE = Path(audiolab.__file__).parent
# Lowest first. Private top-level modules (audiolab/_*.py) are the base everyone may use.
LAYERS = ["_base", "dsp", "calibration", "hearing", "engine", "store", "experiments", "bench",
          "cli", "gui"]
HEAVY = ("PySide6", "pyqtgraph", "matplotlib", "dask", "distributed")


def _layer(module: str) -> str:
    parts = module.split(".")
    if module == "audiolab.__main__":
        return "cli"  # `python -m audiolab` is the command line
    if len(parts) < 2 or parts[1] not in LAYERS:
        return "_base"
    return parts[1]


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at_top_level) for every import of an audiolab module in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, id(node) in top))
        elif isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names]
    return found


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "data" not in p.relative_to(PACKAGE).parts)


def test_layers_import_only_downwards():
    bad = []
    for path in _sources():
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        own = _layer(".".join(rel.parts))
        for module, _ in _imports(path):
            if not module.startswith("audiolab.") or module == "audiolab._kernels":
                continue
            other = _layer(module)
            if LAYERS.index(other) > LAYERS.index(own):
                bad.append(f"{rel}: {own} imports {module} ({other})")
    assert not bad, "layer violations:\n" + "\n".join(bad)


def test_qt_only_in_gui():
    bad = []
    for path in _sources():
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "gui":
            continue
        for module, _ in _imports(path):
            if module.split(".")[0] in ("PySide6", "pyqtgraph", "shiboken6"):
                bad.append(f"{rel} imports {module}")
    assert not bad, "Qt outside audiolab/gui:\n" + "\n".join(bad)


def test_heavy_libraries_are_never_imported_at_module_level_outside_gui():
    bad = []
    for path in _sources():
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "gui":
            continue
        for module, at_top in _imports(path):
            if at_top and module.split(".")[0] in HEAVY:
                bad.append(f"{rel} imports {module} at module level")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    "modules",
    [
        ["audiolab"],
        ["audiolab", "audiolab.dsp", "audiolab.hearing", "audiolab.calibration", "audiolab.cli"],
    ],
)
def test_import_loads_no_qt_matplotlib_or_dask(modules):
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_package_declares_all():
    missing = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("__init__.py")
        if "__all__" not in p.read_text()
    ]
    assert not missing
