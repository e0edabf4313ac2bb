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


def _expand(path: Path, seen: set[Path] | None = None) -> str:
    """Text of ``path`` with its local includes expanded in place, each header once.

    The headers include what they use and carry include guards; expanding a header once, where
    it is first included, is what those guards do for the C compiler. Other preprocessor lines
    (guards, system includes) are dropped: cdef() reads plain declarations.
    """
    seen = set() if seen is None else seen
    seen.add(path.resolve())
    out = []
    for line in path.read_text().splitlines():
        m = _INCLUDE.match(line)
        if m:
            header = (path.parent / m.group(1)).resolve()
            if header not in seen:
                out.append(_expand(header, seen))
        elif line.lstrip().startswith("#"):
            continue
        else:
            out.append(line)
    return "\n".join(out)


def cdef_source() -> str:
    """The declarations cdef() reads: csrc/audiolab.h with its local includes expanded."""
    return _expand(CSRC / "audiolab.h")


def cflags() -> list[str]:
    """Compiler flags of the extension (also used by the tests that compile the headers)."""
    # -Wno-psabi: GCC warns that a 64-byte vector passed by value changes the calling convention
    # without AVX-512; the vector helpers (csrc/al_simd.h) are static inline, never called
    # across an ABI boundary.
    flags = ["-O3", "-std=gnu11", "-fno-math-errno", "-fno-trapping-math", "-funroll-loops",
             "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-psabi"]
    # Built on the machine that runs it: native vector width makes the band recursions 2x faster.
    # AUDIOLAB_PORTABLE=1 builds for the baseline ISA instead (e.g. for a heterogeneous cluster).
    if os.environ.get("AUDIOLAB_PORTABLE") != "1" and platform.machine() in ("x86_64", "AMD64"):
        flags.append("-march=native")
    flags += os.environ.get("AUDIOLAB_CFLAGS", "").split()
    return flags


ffibuilder = FFI()
ffibuilder.cdef(cdef_source())
_sources = sorted(str(p.relative_to(ROOT)) for p in CSRC.glob("*.c"))
ffibuilder.set_source(
    "audiolab._kernels",
    '#include "audiolab.h"',
    sources=_sources,
    include_dirs=[str(CSRC.relative_to(ROOT))],
    extra_compile_args=cflags(),
    libraries=["m"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
