"""One way to hand NumPy arrays to a C state struct and keep them alive while C holds them.

Every stateful kernel keeps its state in a struct that Python allocates and whose pointer
fields point into NumPy arrays (DESIGN.md, "Processors"). :class:`CStruct` does the four steps
each of them needs: convert the values to the field's C type (float32 for ``float *``,
float64 for ``double *``, int32/int64 for ``int32_t *``/``int64_t *``), C-contiguous; check the
length the kernel will index; take the cffi view (``ffi.from_buffer``) and assign it to the
field; keep the array and the view referenced for as long as the struct lives.

Every array it binds is written element by element when it is bound (a copy of the values, or
:meth:`CStruct.zeros`), so every page C will touch is mapped before the first call: a fresh
``np.zeros`` is backed by pages the OS maps on first touch, which in the real-time engine's
audio callback would be page faults on its first blocks. (``a[...] = a`` does not do this:
NumPy skips a copy onto the same memory.)
"""

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from audiolab._ckernel import ffi

__all__ = ["CStruct"]

_DTYPES: dict[str, np.dtype] = {
    "float": np.dtype(np.float32),
    "double": np.dtype(np.float64),
    "int32_t": np.dtype(np.int32),
    "int64_t": np.dtype(np.int64),
}


class CStruct:
    """A cffi struct and the NumPy arrays its pointer fields point into.

    Parameters
    ----------
    struct : str or cdata
        The struct's C type name (``"al_wdrc"``: a new zeroed ``al_wdrc *`` is allocated), or an
        existing struct (such as an element of a ``ffi.new("al_hlsim_ear[]", n)`` array, which
        the caller keeps alive).
    **fields
        Scalar fields to set now (``n_bands=30``).

    Attributes
    ----------
    c : cdata
        The struct (pointer), to pass to the kernel.
    arrays : dict of str to numpy.ndarray
        The bound arrays by field name, as C sees them (state arrays may be read from Python).

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab._cstruct import CStruct
    >>> s = CStruct("al_sos", n_channels=1, n_sections=1)
    >>> sos = s.bind("sos", [[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]], length=6, writable=False)
    >>> state = s.zeros("state", (1, 1, 2))
    >>> sos.dtype, state.dtype, int(s.c.n_sections)
    (dtype('float64'), dtype('float64'), 1)
    """

    def __init__(self, struct: str | Any, **fields: Any) -> None:
        self.c: Any = ffi.new(f"{struct} *") if isinstance(struct, str) else struct
        ctype = ffi.typeof(self.c)
        self._ctype = ctype.item if ctype.kind == "pointer" else ctype
        self._fields = dict(self._ctype.fields)
        self.arrays: dict[str, np.ndarray] = {}
        self._views: dict[str, Any] = {}
        self._others: list[Any] = []
        self.set(**fields)

    def set(self, **fields: Any) -> None:
        """Set scalar fields (or pointers to other cdata, which the caller keeps alive)."""
        for name, value in fields.items():
            self._field(name)
            setattr(self.c, name, value)

    def _field(self, name: str) -> Any:
        try:
            return self._fields[name].type
        except KeyError:
            raise AttributeError(f"{self._ctype.cname} has no field {name!r}") from None

    def _dtype(self, name: str) -> np.dtype:
        ftype = self._field(name)
        dtype = _DTYPES.get(ftype.item.cname) if ftype.kind == "pointer" else None
        if dtype is None:
            raise TypeError(
                f"{self._ctype.cname}.{name} is {ftype.cname}, not a pointer to one of "
                + ", ".join(_DTYPES)
            )
        return dtype

    def bind(
        self, name: str, values: ArrayLike, *, length: int | None = None, writable: bool = True
    ) -> np.ndarray:
        """Copy ``values`` into a new array of the field's C type and point field ``name`` at it.

        Parameters
        ----------
        name : str
            A pointer field of the struct (``float *``, ``double *``, ``int32_t *`` or
            ``int64_t *``).
        values : array_like
            The values, of any shape (C sees them flattened in C order); converted to the
            field's type.
        length : int, optional
            The number of elements the kernel indexes: a different size raises ValueError.
        writable : bool
            False for values C only reads (the array is then made read-only).

        Returns
        -------
        numpy.ndarray
            The bound array (C-contiguous, the field's dtype, ``values``' shape).
        """
        dtype = self._dtype(name)
        src = np.asarray(values)
        arr = np.empty(src.shape, dtype)
        arr[...] = src  # a fresh array, every element written: its pages are mapped now
        return self._attach(name, arr, length, writable)

    def zeros(self, name: str, shape: int | tuple[int, ...], *, fill: float = 0.0) -> np.ndarray:
        """Bind a new writable array of ``shape`` set to ``fill`` (written now: mapped pages).

        ``np.zeros`` would be lazily mapped by the OS; :meth:`numpy.ndarray.fill` writes every
        element.
        """
        arr = np.empty(shape, self._dtype(name))
        arr.fill(fill)
        return self._attach(name, arr, None, True)

    def _attach(self, name: str, arr: np.ndarray, length: int | None, writable: bool) -> np.ndarray:
        if length is not None and arr.size != length:
            raise ValueError(
                f"{self._ctype.cname}.{name} must have {length} elements, got {arr.size} "
                f"(shape {arr.shape})"
            )
        ctype = self._field(name).item.cname
        view = ffi.from_buffer(f"{ctype}[]", arr, require_writable=writable)
        if not writable:
            arr.setflags(write=False)
        setattr(self.c, name, view)
        self.arrays[name] = arr
        self._views[name] = view
        return arr

    def keep(self, obj: Any) -> None:
        """Keep ``obj`` (say another struct this one points to) alive as long as this one."""
        self._others.append(obj)
