"""cffi builder for audiolab._kernels (API out-of-line mode).

``csrc/audiolab.h`` is the one header: the C sources include it, and its text (with the local
``#include "..."`` lines expanded and other preprocessor lines dropped) is what ``cdef()`` reads.
Headers therefore declare constants as enums, never as ``#define``.
"""

import os
import platform
import re
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def _expand(path: Path) -> str:
    out = []
    for line in path.read_text().splitlines():
        m = _INCLUDE.match(line)
        if m:
            out.append(_expand(path.parent / m.group(1)))
        elif line.lstrip().startswith("#"):
            continue
        else:
            out.append(line)
    return "\n".join(out)


def _cflags() -> list[str]:
    flags = ["-O3", "-std=gnu11", "-fno-math-errno", "-fno-trapping-math", "-funroll-loops",
             "-Wall", "-Wextra", "-Wno-unused-parameter"]
    # Built on the machine that runs it: native vector width makes the band recursions 2x faster.
    # AUDIOLAB_PORTABLE=1 builds for the baseline ISA instead (e.g. for a heterogeneous cluster).
    if os.environ.get("AUDIOLAB_PORTABLE") != "1" and platform.machine() in ("x86_64", "AMD64"):
        flags.append("-march=native")
    flags += os.environ.get("AUDIOLAB_CFLAGS", "").split()
    return flags


ffibuilder = FFI()
ffibuilder.cdef(_expand(CSRC / "audiolab.h"))
_sources = sorted(str(p.relative_to(ROOT)) for p in CSRC.glob("*.c"))
ffibuilder.set_source(
    "audiolab._kernels",
    '#include "audiolab.h"',
    sources=_sources,
    include_dirs=[str(CSRC.relative_to(ROOT))],
    extra_compile_args=_cflags(),
    libraries=["m"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
