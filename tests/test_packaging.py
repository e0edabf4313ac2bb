"""Packaging: a wheel built from the source tree carries the compiled kernels and the data files,
and the source distribution carries csrc/ (without MANIFEST.in it would not)."""

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_contains_the_c_extension_and_data(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("audiolab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("audiolab/_kernels") and n.endswith(".so") for n in names)
    for needed in (
        "audiolab/data/bisgaard2010_standard_audiograms.json",
        "audiolab/data/ansi_s3_5_1997_sii.json",
        "audiolab/data/retspl.toml",
        "audiolab/data/speech/manifest.csv",
        "audiolab/py.typed",
    ):
        assert needed in names
    n_flac = sum(n.endswith(".flac") for n in names)
    manifest = (ROOT / "audiolab/data/speech/manifest.csv").read_text().splitlines()
    assert n_flac >= len(manifest) - 1  # every listed recording (+ the speech-shaped noise)


@pytest.mark.slow
def test_sdist_contains_the_c_sources(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    (sdist,) = tmp_path.glob("audiolab-*.tar.gz")
    members = [Path(n) for n in tarfile.open(sdist).getnames()]
    names = {n.relative_to(n.parts[0]).as_posix() for n in members if len(n.parts) > 1}
    for src in sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "csrc").rglob("*.[ch]")):
        assert src in names
    assert "audiolab/_build_kernels.py" in names and "setup.py" in names
