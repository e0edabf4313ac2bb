"""Hygiene of the C kernels: headers that stand alone, an interface free of internal helpers,
index tables refused at set-up when out of range, and a stale build caught at import.

The hostile structs are built here from scratch with cffi, as a careless or stale caller would
fill them, so the checks are those of the C kernels themselves, not of the Python classes.
"""

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from audiolab import _ckernel
from audiolab._build_kernels import cdef_source, cflags
from audiolab._ckernel import check, ffi, lib
from audiolab._errors import KernelError

CSRC = Path(__file__).resolve().parent.parent / "csrc"
HEADERS = sorted(CSRC.glob("*.h"))


# -- headers -----------------------------------------------------------------------------------


def test_headers_are_found():
    names = {h.name for h in HEADERS}
    assert {"audiolab.h", "al_common.h", "al_simd.h", "al_fastmath.h", "al_biquad.h"} <= names


@pytest.mark.parametrize("header", HEADERS, ids=lambda h: h.name)
def test_each_header_compiles_on_its_own_and_twice(header, tmp_path):
    # Included twice in one translation unit with nothing before it: it must include what it
    # uses, and its include guard must make the second inclusion harmless.
    unit = tmp_path / "unit.c"
    unit.write_text(f'#include "{header.name}"\n#include "{header.name}"\n')
    result = subprocess.run(
        ["gcc", "-fsyntax-only", *cflags(), "-Werror", f"-I{CSRC}", str(unit)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("header", HEADERS, ids=lambda h: h.name)
def test_each_header_has_an_include_guard(header):
    lines = [ln for ln in header.read_text().splitlines() if ln.startswith("#")]
    guard = header.name.upper().replace(".", "_")
    assert lines[:2] == [f"#ifndef {guard}", f"#define {guard}"]
    assert lines[-1] == "#endif"


def test_the_cdef_interface_holds_plain_declarations_only():
    text = re.sub(r"/\*.*?\*/", "", cdef_source(), flags=re.S)  # comments aside
    # cffi's cdef() takes declarations: no function bodies, macros or GNU vector types, which
    # live in the internal headers (al_internal.h, al_simd.h, al_fastmath.h, al_biquad.h).
    for banned in ("static", "inline", "__attribute__", "#", "al_vf16", "AL_BIQUAD_TDF2"):
        assert banned not in text, banned
    # Each header is expanded once, as its include guard would have it.
    assert text.count("typedef enum {\n    AL_OK = 0,") == 1
    assert len(re.findall(r"\bal_status al_engine_publish\(", text)) == 1


def test_the_internal_headers_stay_out_of_audiolab_h():
    internal = {"al_internal.h", "al_simd.h", "al_fastmath.h", "al_biquad.h",
                "al_gammatone_impl.h"}
    seen, todo = set(), ["audiolab.h"]
    while todo:
        name = todo.pop()
        seen.add(name)
        todo += [m for m in re.findall(r'#include "([^"]+)"', (CSRC / name).read_text())
                 if m not in seen]
    assert not seen & internal


# -- stale build -------------------------------------------------------------------------------


def test_the_built_kernels_match_this_python_code():
    assert lib.al_abi_version() == _ckernel.ABI_VERSION
    _ckernel.check_abi()


def test_a_stale_build_is_refused_with_how_to_rebuild(monkeypatch):
    monkeypatch.setattr(_ckernel, "ABI_VERSION", _ckernel.ABI_VERSION + 1)
    with pytest.raises(KernelError, match=r"stale.*make setup.*pip install -e \.") as info:
        _ckernel.check_abi()
    assert f"version {lib.al_abi_version()}" in str(info.value)


def test_a_stale_build_fails_the_import_cleanly():
    # A fresh interpreter whose extension reports another interface version: importing the
    # bridge raises KernelError naming the fix, instead of handing C structs of another layout.
    code = (
        "import sys, types\n"
        "fake = types.ModuleType('audiolab._kernels')\n"
        "fake.ffi = None\n"
        "fake.lib = types.SimpleNamespace(al_abi_version=lambda: 0)\n"
        "sys.modules['audiolab._kernels'] = fake\n"
        "try:\n"
        "    import audiolab._ckernel\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, 'refused:', exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "KernelError refused: audiolab's C extension is stale" in result.stdout
    assert "version 0" in result.stdout and "make setup" in result.stdout


# -- index tables checked at set-up --------------------------------------------------------------

_CTYPES = {"float": np.float32, "double": np.float64, "int32_t": np.int32, "int64_t": np.int64}


def _struct(ctype: str, size: int = 1 << 14, **fields: Any) -> tuple[Any, list[Any]]:
    """A zeroed ``ctype`` struct whose numeric pointer fields point to ``size`` zeros.

    ``fields`` set scalars, or arrays (given as lists) that replace the zeros. Returns the
    struct and the arrays C points into (to keep alive).
    """
    c = ffi.new(f"{ctype} *")
    keep = []
    for name, field in ffi.typeof(ctype).fields:
        if field.type.kind == "pointer" and field.type.item.cname in _CTYPES:
            dtype = _CTYPES[field.type.item.cname]
            arr = np.zeros(size, dtype)
            if name in fields:
                values = np.asarray(fields.pop(name), dtype)
                arr[: values.size] = values
            buf = ffi.from_buffer(f"{field.type.item.cname}[]", arr)
            keep += [arr, buf]
            setattr(c, name, buf)
    for name, value in fields.items():
        setattr(c, name, value)
    return c, keep


def _refused(status: int, kernel: str) -> None:
    assert status == lib.AL_ERR_SIZE
    with pytest.raises(KernelError, match="a count or size is out of range"):
        check(status, kernel)


@pytest.mark.parametrize("delay", [0, 7])
def test_gammatone_synthesis_takes_delays_inside_its_ring(delay):
    s, keep = _struct("al_gt_synth", n_bands=2, n_channels=1, ring_len=8, delay=[0, delay])
    out = np.zeros(16, np.float32)
    bands = np.zeros(2 * 2 * 16, np.float32)
    status = lib.al_gt_synthesize(s, 0, ffi.from_buffer("float[]", bands), 16,
                                  ffi.from_buffer("float[]", out))
    assert status == lib.AL_OK


@pytest.mark.parametrize("delay", [8, -1, 2**31 - 1, -(2**31)])
def test_gammatone_synthesis_refuses_delays_outside_its_ring(delay):
    s, keep = _struct("al_gt_synth", n_bands=2, n_channels=1, ring_len=8, delay=[0, delay])
    out = np.zeros(16, np.float32)
    bands = np.zeros(2 * 2 * 16, np.float32)
    _refused(lib.al_gt_synthesize(s, 0, ffi.from_buffer("float[]", bands), 16,
                                  ffi.from_buffer("float[]", out)), "al_gt_synthesize")


def _wdrc(delay: int) -> tuple[Any, list[Any]]:
    # ring_len 128 with 64-sample chunks: delays up to 128 - 64 - 1 = 63 (al_wdrc.h).
    return _struct("al_wdrc", n_bands=1, n_groups=1, n_channels=1, grid=32, ring_len=128,
                   delay=[delay], limiter_release_coef=0.5, power_scale=1.0,
                   power_floor=1e-10, limit_pa=[1.0])


@pytest.mark.parametrize("delay", [0, 63])
def test_wdrc_takes_delays_its_input_ring_holds(delay):
    s, keep = _wdrc(delay)
    x = np.ones(300, np.float32)
    assert lib.al_wdrc_process(s, ffi.from_buffer("float[]", x), 1, x.size) == lib.AL_OK


@pytest.mark.parametrize("delay", [64, 128, -1, 2**31 - 1])
def test_wdrc_refuses_delays_beyond_its_input_ring(delay):
    s, keep = _wdrc(delay)
    x = np.ones(300, np.float32)
    _refused(lib.al_wdrc_process(s, ffi.from_buffer("float[]", x), 1, x.size), "al_wdrc_process")


def _ear(mode: int, **fields: Any) -> tuple[Any, Any, list[Any]]:
    """A one-band ear (16 lanes) with delays up to 2 samples; with smearing, 16-sample frames."""
    n_bands, max_delay = 1, 2
    base: dict[str, Any] = dict(
        n_bands=n_bands, n_lanes=16, gain_interval=8, max_delay=max_delay, lag=1,
        hist_rows=64, row=max_delay, env_floor=1e-6, n_ratio=3, ratio_scale=1.0,
        freq_coef=0.5, freq_every=1, smear_mode=mode,
        # Band 0 delayed by d = 1: nb + b - 2 nb d (al_hlsim.h).
        read_offset=[n_bands + 0 - 2 * n_bands * 1],
    )
    keep: list[Any] = []
    if mode != lib.AL_HLSIM_SMEAR_OFF:
        base.update(frame_len=16, hop=4, phase=0, pc_coef=0.5, pc_max_gain=2.0,
                    smear_start=[0], smear_len=[16], smear_offset=[0])
        # A real FFT of 32 points runs a complex one of 16: bit reversal of 0..15.
        bitrev = [int(f"{i:04b}"[::-1], 2) for i in range(16)]
        fft, fft_keep = _struct("al_rfft", n=32, bitrev=fields.pop("bitrev", bitrev))
        keep += [fft, fft_keep]
        base["fft"] = fft
    base.update(fields)
    ears = ffi.new("al_hlsim_ear[1]")
    ear, ear_keep = _struct("al_hlsim_ear", **base)
    ears[0] = ear[0]
    sim = ffi.new("al_hlsim *", {"n_channels": 1, "ears": ears})
    return sim, ears, keep + [ear, ear_keep]


def _run_ear(sim: Any) -> int:
    x = np.ones(200, np.float32)
    return lib.al_hlsim_process(sim, ffi.from_buffer("float[]", x), 1, x.size)


@pytest.mark.parametrize("mode", ["AL_HLSIM_SMEAR_OFF", "AL_HLSIM_SMEAR_ON"])
def test_hearing_loss_ear_with_tables_in_range_runs(mode):
    sim, ears, keep = _ear(getattr(lib, mode))
    assert _run_ear(sim) == lib.AL_OK


@pytest.mark.parametrize(
    "field, value",
    [
        # Resynthesis reads beyond the 2 rows of history kept, or past the current row.
        ("read_offset", [1 - 2 * 3]),
        ("read_offset", [2]),
        ("read_offset", [2**31 - 1]),
        # Smearing blocks outside the 16 bins of a frame, or not stored one after the other.
        ("smear_start", [1]),
        ("smear_start", [-1]),
        ("smear_len", [17]),
        ("smear_len", [-1]),
        ("smear_offset", [16]),
        # A bit-reversal table indexing past the FFT's 16 complex points.
        ("bitrev", [16] + list(range(1, 16))),
        ("bitrev", [-1] + list(range(1, 16))),
    ],
)
def test_hearing_loss_ear_refuses_tables_out_of_range(field, value):
    sim, ears, keep = _ear(lib.AL_HLSIM_SMEAR_ON, **{field: value})
    _refused(_run_ear(sim), "al_hlsim_process")


def test_rfft_refuses_a_bit_reversal_table_out_of_range():
    fft, keep = _struct("al_rfft", n=8, bitrev=[0, 2, 1, 4])
    x = np.zeros(8, np.float32)
    re_, im_ = np.zeros(5, np.float32), np.zeros(5, np.float32)
    args = [ffi.from_buffer("float[]", a) for a in (x, re_, im_)]
    _refused(lib.al_rfft_forward(fft, args[0], args[1], args[2]), "al_rfft_forward")
    _refused(lib.al_rfft_inverse(fft, args[1], args[2], args[0]), "al_rfft_inverse")


@pytest.mark.parametrize(
    "fields",
    [
        {"n_sections": int(lib.AL_SOSBANK_MAX_SECTIONS) + 1},
        {"n_sections": 0},
        {"stride": 4},  # fewer lanes than bands
        {"stride": 12},  # not a multiple of AL_SOSBANK_LANES
    ],
)
def test_sos_bank_refuses_counts_out_of_range(fields):
    base = {"n_bands": 6, "stride": 8, "n_sections": 2, "n_channels": 1, **fields}
    s, keep = _struct("al_sosbank", **base)
    x, out = np.zeros(32, np.float32), np.zeros(6 * 32, np.float32)
    _refused(lib.al_sosbank_analyze(s, 0, ffi.from_buffer("float[]", x), 32,
                                    ffi.from_buffer("float[]", out)), "al_sosbank_analyze")


@pytest.mark.parametrize("n_bands", [0, int(lib.AL_CI_MAX_BANDS) + 1])
def test_ci_vocoder_refuses_band_counts_out_of_range(n_bands):
    s, keep = _struct("al_ci", n_channels=1, n_bands=n_bands, carrier=lib.AL_CI_SINE,
                      n_analysis_sections=1, n_envelope_sections=1)
    x = np.zeros(16, np.float32)
    _refused(lib.al_ci_process(s, ffi.from_buffer("float[]", x), 1, x.size), "al_ci_process")


def _engine(n_inputs: int = 1, n_outputs: int = 2) -> tuple[Any, list[Any]]:
    e = ffi.new("char[]", int(lib.al_engine_sizeof()))
    engine = ffi.cast("al_engine *", e)
    ones = np.ones(n_outputs, np.float32)
    work = np.zeros(n_outputs * 64, np.float32)
    stats = ffi.new("al_block_stats[]", 8)
    f = [ffi.from_buffer("float[]", a) for a in (ones, work)]
    status = lib.al_engine_init(engine, n_inputs, n_outputs, 64, 48000.0, f[0], f[0], f[0],
                                ffi.NULL, ffi.NULL, f[1], stats, 8, ffi.NULL, 0, ffi.NULL, 0)
    assert status == lib.AL_OK
    return engine, [e, ones, work, stats, f]


def _publish(engine: Any, in_map: list[int], out_map: list[int]) -> tuple[int, Any, list[Any]]:
    """Publish a graph of one processing channel with these maps; (status, graph, keep)."""
    arrays = [np.asarray(in_map, np.int32), np.ones(1, np.float32),
              np.asarray(out_map, np.int32), np.zeros(64, np.float32)]
    types = ["int32_t[]", "float[]", "int32_t[]", "float[]"]
    bufs = [ffi.from_buffer(t, a) for t, a in zip(types, arrays, strict=True)]
    graph = ffi.new("al_graph *", {"id": 1, "n_channels": 1, "n_stages": 0, "in_map": bufs[0],
                                   "in_gain": bufs[1], "out_map": bufs[2], "work": bufs[3]})
    return lib.al_engine_publish(engine, graph), graph, [arrays, bufs]


def test_engine_publishes_a_graph_with_channel_maps_in_range():
    engine, keep = _engine()
    status, graph, graph_keep = _publish(engine, [0], [0, -1])
    assert status == lib.AL_OK
    lib.al_engine_adopt(engine)
    assert lib.al_engine_active(engine) == graph


@pytest.mark.parametrize(
    "in_map, out_map",
    # The engine has 1 device input and 2 outputs; the graph has 1 processing channel.
    [([1], [0, 0]), ([-2], [0, 0]), ([0], [1, 0]), ([0], [0, -2])],
)
def test_engine_refuses_channel_maps_out_of_range_before_publishing(in_map, out_map):
    engine, keep = _engine()
    status, graph, graph_keep = _publish(engine, in_map, out_map)
    _refused(status, "al_engine_publish")
    lib.al_engine_adopt(engine)
    assert lib.al_engine_active(engine) == ffi.NULL  # nothing was published


# -- CPU paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["baseline", "bogus"])
def test_the_cpu_path_is_forced_from_the_environment(path):
    # A fresh interpreter, as a cluster worker with AUDIOLAB_CPU_PATH set would start.
    code = (
        "from audiolab._ckernel import ffi, lib\n"
        "print(ffi.string(lib.al_cpu_path()).decode())\n"
    )
    env = {**os.environ, "AUDIOLAB_CPU_PATH": path}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False, env=env)
    if path == "baseline":
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "baseline"
    else:
        assert result.returncode != 0
        assert "KernelError: CPU path 'bogus' is not available here; use one of baseline" in (
            result.stderr)


def test_an_unsupported_cpu_path_is_refused_and_the_selection_kept():
    before = ffi.string(lib.al_cpu_path()).decode()
    assert lib.al_cpu_select(99) == lib.AL_ERR_VALUE
    assert ffi.string(lib.al_cpu_path()).decode() == before
    with pytest.raises(KernelError, match="not available here"):
        _ckernel.select_cpu_path("avx1024")
    # The baseline path is built and runs everywhere; the default is the widest path that runs.
    paths = _ckernel.supported_cpu_paths()
    assert paths[0] == "baseline"
    before = _ckernel.select_cpu_path(None)
    expected = next(p for p in ("avx512", "avx2", "baseline") if p in paths)
    assert _ckernel.select_cpu_path(before) == expected
