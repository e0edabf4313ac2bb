"""cffi builder for audiolab._kernels (API out-of-line mode).

``csrc/audiolab.h`` is the one header: the C sources include it, and its text (with the local
``#include "..."`` lines expanded and other preprocessor lines dropped) is what ``cdef()`` reads.
Headers therefore declare constants as enums, never as ``#define``.
"""

import os
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
    # No -march: the build targets the architecture's baseline and runs anywhere; the hot
    # kernels add AVX2 and AVX-512 variants chosen at run time (csrc/isa/).
    flags = ["-O3", "-std=gnu11", "-fno-math-errno", "-fno-trapping-math", "-funroll-loops",
             "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-psabi"]
    flags += os.environ.get("AUDIOLAB_CFLAGS", "").split()
    return flags


_ISA = CSRC / "isa"


def multiversioned_sources() -> list[str]:
    """The hot C sources built once per instruction set: those csrc/isa/kernels.h includes."""
    return _INCLUDE_C.findall((_ISA / "kernels.h").read_text())


def dispatched_functions() -> list[str]:
    """The public functions of the hot sources (csrc/isa/al_isa_names.h), in its order."""
    return _RENAMED.findall((_ISA / "al_isa_names.h").read_text())


def dispatch_source() -> str:
    """C definitions of the dispatched functions: each calls the variant of the selected path.

    The variants are declared with ``__typeof__`` of the public declaration, so their
    signatures are the header's by construction; the parameter list is the header's text.
    """
    decls = re.sub(r"/\*.*?\*/", "", cdef_source(), flags=re.S)
    out = ['#include "isa/al_isa.h"']
    for name in dispatched_functions():
        m = re.search(rf"\n(\w[\w \*]*?)\s*\b{name}\s*\(([^;]*?)\)\s*;", decls)
        if m is None:
            raise RuntimeError(f"{name} is in csrc/isa/al_isa_names.h but not in audiolab.h")
        ret, params = m.group(1).strip(), " ".join(m.group(2).split())
        args = ", ".join(re.search(r"(\w+)\s*$", p).group(1) for p in params.split(","))  # type: ignore[union-attr]
        out += [
            f"extern __typeof__({name}) {name}_baseline;",
            "#if AL_ISA_VARIANTS",
            f"extern __typeof__({name}) {name}_avx2, {name}_avx512;",
            "#endif",
            f"{ret} {name}({params})",
            "{",
            "#if AL_ISA_VARIANTS",
            f"    if (al_cpu_selected == AL_CPU_AVX512) return {name}_avx512({args});",
            f"    if (al_cpu_selected == AL_CPU_AVX2) return {name}_avx2({args});",
            "#endif",
            f"    return {name}_baseline({args});",
            "}",
        ]
    return "\n".join(out) + "\n"


_INCLUDE_C = re.compile(r'^#include "\.\./(\w+\.c)"', re.M)
_RENAMED = re.compile(r"^#define (al_\w+) AL_ISA_NAME\(\1\)", re.M)

ffibuilder = FFI()
ffibuilder.cdef(cdef_source())
_hot = set(multiversioned_sources())
_sources = sorted(str(p.relative_to(ROOT)) for p in CSRC.glob("*.c") if p.name not in _hot)
_sources += sorted(str(p.relative_to(ROOT)) for p in _ISA.glob("*.c"))
ffibuilder.set_source(
    "audiolab._kernels",
    '#include "audiolab.h"\n' + dispatch_source(),
    sources=_sources,
    include_dirs=[str(CSRC.relative_to(ROOT))],
    extra_compile_args=cflags(),
    libraries=["m"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
