"""The inputs of a batch: files, folders and globs expanded in order, and each one's output path."""

import glob
import os
from collections.abc import Sequence
from pathlib import Path

from audiolab._audio_io import AUDIO_EXTENSIONS
from audiolab._errors import ConfigError

__all__ = ["collect_inputs", "output_paths"]


def _walk(folder: Path, exclude: Path | None) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        here = Path(root)
        if exclude is not None and (here.resolve() == exclude or exclude in here.resolve().parents):
            dirs[:] = []
            continue
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in AUDIO_EXTENSIONS:
                found.append(here / name)
    return found


def collect_inputs(
    inputs: Sequence[str | os.PathLike[str]], *, exclude: Path | None = None
) -> list[Path]:
    """Expand files, folders (recursively, sound files by extension) and globs, in order.

    Parameters
    ----------
    inputs : sequence of str or path-like
        Each a file (taken as given, whatever its extension), a folder, or a glob pattern
        (``**`` recurses).
    exclude : Path, optional
        A folder whose contents folder walks skip (the output folder).

    Raises
    ------
    ConfigError
        An input that does not exist, a glob matching nothing, or a folder with no sound files.
    """
    exclude = exclude.resolve() if exclude is not None else None
    out: list[Path] = []
    for item in inputs:
        text = os.fspath(item)
        if not text:  # Path("") is the current folder: an unset shell variable, not "walk here"
            raise ConfigError("an input is an empty string; give a file, folder or glob")
        path = Path(text)
        if path.is_dir():
            found = _walk(path, exclude)
            if not found:
                exts = ", ".join(sorted(AUDIO_EXTENSIONS))
                raise ConfigError(f"folder {text} holds no sound files (looked for {exts})")
            out.extend(found)
        elif path.exists():
            out.append(path)
        elif any(c in text for c in "*?["):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise ConfigError(f"{text!r} matches no file")
            for m in matches:
                out.extend(_walk(Path(m), exclude) if Path(m).is_dir() else [Path(m)])
        else:
            raise ConfigError(f"{text}: no such file or folder")
    return _first_of_each(out)


def _first_of_each(paths: list[Path]) -> list[Path]:
    """``paths`` without repeats (two names of one file count once), in order, absolute."""
    seen: set[Path] = set()
    unique = []
    for p in paths:
        r = p.resolve()
        if r not in seen:
            seen.add(r)
            # Absolute but not resolved: a symbolic link keeps its own name (and output stem).
            unique.append(Path(os.path.abspath(p)))
    return unique


def output_paths(files: Sequence[Path], out_dir: Path) -> list[Path]:
    """``out_dir/<stem>.wav`` for each input, in order.

    Raises
    ------
    ConfigError
        Two inputs with the same stem, or an input that its own output would overwrite.
    """
    by_stem: dict[str, list[Path]] = {}
    for f in files:
        by_stem.setdefault(f.stem, []).append(f)
    clashes = {s: fs for s, fs in by_stem.items() if len(fs) > 1}
    if clashes:
        stem, paths = next(iter(clashes.items()))
        more = f" (and {len(clashes) - 1} more such stems)" if len(clashes) > 1 else ""
        raise ConfigError(
            f"inputs {', '.join(map(str, paths))} would all be written to "
            f"{out_dir / (stem + '.wav')}{more}; rename them or process them into separate "
            "folders"
        )
    outputs = [out_dir / f"{f.stem}.wav" for f in files]
    for f, o in zip(files, outputs, strict=True):
        if f.resolve() == o.resolve():
            raise ConfigError(
                f"input {f} would be overwritten by its own output; choose another --out"
            )
    return outputs
