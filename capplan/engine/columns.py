"""Per-request columns: numpy arrays at the boundary, cheap to write one item at a time.

Setting one item of a numpy array from Python costs about twice setting one item
of an `array.array` or a `bytearray` (numpy converts the Python scalar through its
own type machinery), and the request paths set four items per request. So each hot
column lives in such a buffer and is exposed as a numpy array over the same memory
(`np.frombuffer`, no copy): the hot paths write through the buffer, everything
else reads and writes the numpy array, and both always see the same values.
"""

from __future__ import annotations

from array import array

import numpy as np

# array.array type codes with the numpy dtype they hold ('i' is a 4-byte C int here).
_CODES = {np.dtype(np.float64): "d", np.dtype(np.int32): "i"}
assert array("i").itemsize == 4, "array('i') must hold int32 for the worker column"

Buffer = array | bytearray


def column(values: np.ndarray) -> tuple[Buffer, np.ndarray]:
    """A writable buffer holding a copy of `values`, and the numpy array over its memory.

    float64 and int32 go in an `array.array`, int8 in a `bytearray` (whose items are
    0..255: only non-negative int8 codes may be written through it).
    """
    values = np.ascontiguousarray(values)
    buffer: Buffer
    if values.dtype == np.int8:
        buffer = bytearray(values.tobytes())
    else:
        buffer = array(_CODES[values.dtype], values.tobytes())
    return buffer, np.frombuffer(buffer, dtype=values.dtype)


class Column:
    """A per-request column attribute (class-level descriptor).

    Assigning an array to it (`endpoint.end = np.full(n, np.nan)`, a stream's or a closed
    loop's regrown array) stores a copy in a fresh buffer, `<name>_buf` on the instance,
    and reading it gives the numpy array over that buffer. So whoever replaces a column
    cannot leave the request paths writing into the old one.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.array_key, self.buffer_key = "_" + name + "_array", name + "_buf"

    def __get__(self, obj: object, owner: type | None = None) -> np.ndarray:
        if obj is None:
            return self  # type: ignore[return-value]
        return obj.__dict__[self.array_key]

    def __set__(self, obj: object, values: np.ndarray) -> None:
        buffer, array_ = column(values)
        obj.__dict__[self.buffer_key] = buffer
        obj.__dict__[self.array_key] = array_
