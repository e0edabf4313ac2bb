"""CStruct: binding arrays to a C struct's fields, with type and length checks, written pages."""

import numpy as np
import pytest
from residency import PAGE_BYTES, resident_pages

from audiolab._ckernel import ffi
from audiolab._cstruct import CStruct

# Bytes: above glibc malloc's largest mmap threshold (32 MiB), so the array gets fresh pages.
BIG = 64 << 20


def test_the_check_sees_unmapped_pages():
    # The control: a fresh np.zeros is calloc'ed from pages the OS maps only when touched, and
    # a self-assignment (NumPy skips a copy onto the same memory) does not touch them.
    a = np.zeros(BIG // 8)
    a[...] = a
    resident, total = resident_pages(a)
    assert total >= BIG // PAGE_BYTES
    assert resident <= 2  # at most the partial pages at either end, shared with the heap


def test_zeros_and_bind_write_every_page():
    s = CStruct("al_sos", n_channels=1, n_sections=1)
    state = s.zeros("state", BIG // 8)
    assert resident_pages(state)[0] == resident_pages(state)[1]
    assert not state.any()
    sos = s.bind("sos", np.zeros(BIG // 8), writable=False)
    assert resident_pages(sos)[0] == resident_pages(sos)[1]


def test_bind_converts_to_the_field_type_and_points_the_field_at_the_array():
    s = CStruct("al_gt_synth", n_bands=3)
    w = s.bind("weight_re", [0.1, 0.2, 0.3], length=3, writable=False)
    d = s.bind("delay", np.array([1.0, 2.0, 3.0]))
    assert w.dtype == np.float32 and d.dtype == np.int32 and not w.flags.writeable
    assert ffi.cast("size_t", s.c.weight_re) == w.ctypes.data
    assert [s.c.delay[i] for i in range(3)] == [1, 2, 3]
    assert s.c.weight_re[1] == np.float32(0.2)
    assert s.arrays["weight_re"] is w


def test_bind_takes_an_existing_struct():
    ears = ffi.new("al_hlsim_ear[]", 2)
    s = CStruct(ears[1], n_bands=4)
    env = s.zeros("env", 8, fill=0.5)
    assert ears[1].n_bands == 4 and ears[1].env[7] == 0.5 and env.size == 8
    assert ears[0].n_bands == 0


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda s: s.bind("delay", [1, 2], length=3), ValueError, "al_gt_synth.delay must have 3"),
        (lambda s: s.bind("n_bands", [1]), TypeError, "not a pointer"),
        (lambda s: s.bind("nope", [1]), AttributeError, "no field 'nope'"),
        (lambda s: s.set(nope=1), AttributeError, "no field 'nope'"),
    ],
)
def test_errors_name_the_field(call, error, words):
    with pytest.raises(error, match=words):
        call(CStruct("al_gt_synth"))
