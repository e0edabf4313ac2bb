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
# ``hearing`` is the deprecated alias of audiology + models: it sits just above them. The command
# line is the entry point of everything, ``audiolab gui`` included, so it sits above the GUI.
LAYERS = ["_base", "dsp", "calibration", "audiology", "models", "hearing", "engine", "store",
          "experiments", "batch", "reports", "bench", "gui", "cli"]
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
        ["audiolab", "audiolab.dsp", "audiolab.calibration", "audiolab.audiology",
         "audiolab.models", "audiolab.engine", "audiolab.batch", "audiolab.reports",
         "audiolab.cli"],
    ],
)
@pytest.mark.slow
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


def test_old_hearing_names_still_resolve_with_a_deprecation_warning():
    import audiolab.audiology
    import audiolab.hearing
    import audiolab.models

    with pytest.warns(DeprecationWarning, match="audiolab.audiology"):
        assert audiolab.hearing.Audiogram is audiolab.audiology.Audiogram
    with pytest.warns(DeprecationWarning, match="audiolab.models"):
        assert audiolab.hearing.HearingAid is audiolab.models.HearingAid
    # Every name the old package exported (frozen in its table) has a new home that exports it.
    assert set(audiolab.hearing.__all__) <= set(audiolab.audiology.__all__) | set(
        audiolab.models.__all__
    )
    assert len(audiolab.hearing.__all__) == 56
    with pytest.raises(AttributeError, match="audiolab.audiology and audiolab.models"):
        audiolab.hearing.NoSuchThing  # noqa: B018


def test_no_subpackage_holds_more_than_30_percent_of_the_code():
    lines: dict[str, int] = {}
    for path in _sources():
        rel = path.relative_to(PACKAGE)
        key = rel.parts[0] if len(rel.parts) > 1 else "_base"
        lines[key] = lines.get(key, 0) + len(path.read_text().splitlines())
    total = sum(lines.values())
    assert max(lines.values()) <= 0.30 * total, lines


def test_every_package_docstring_says_what_it_may_import():
    missing = []
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        if init.parent.name != "data" and "import" not in doc:
            missing.append(str(init.relative_to(PACKAGE)))
    assert not missing, missing
