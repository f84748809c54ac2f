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
