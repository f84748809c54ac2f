"""Per-request columns (capplan.engine.columns): the numpy array and the buffer the
request paths write through are one memory, also after a column is replaced."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from capplan.engine.columns import Column, column


class Holder:
    end = Column()
    worker = Column()
    status = Column()


DTYPES = {"end": np.float64, "worker": np.int32, "status": np.int8}


@given(
    n=st.integers(0, 50),
    writes=st.lists(
        st.tuples(st.sampled_from(sorted(DTYPES)), st.integers(0, 49), st.integers(0, 100)),
        max_size=40,
    ),
    grow=st.integers(0, 30),
)
def test_buffer_writes_show_in_the_array_and_survive_replacement(
    n: int, writes: list[tuple[str, int, int]], grow: int
) -> None:
    h = Holder()
    expected = {
        name: np.full(n, -1 if name != "status" else 0, dtype=dt) for name, dt in DTYPES.items()
    }
    for name, values in expected.items():
        setattr(h, name, values)
    for name, i, value in writes:
        if i >= n:
            continue
        value = value / 4 if name == "end" else value
        getattr(h, name + "_buf")[i] = value  # the request paths' write
        expected[name][i] = value
    for name, values in expected.items():
        array = getattr(h, name)
        assert array.dtype == values.dtype and array.tobytes() == values.tobytes()
    # A stream or a closed loop replaces a column: the buffer follows the new array.
    for name, values in expected.items():
        bigger = np.concatenate([getattr(h, name), np.zeros(grow, dtype=values.dtype)])
        setattr(h, name, bigger)
        if len(bigger):
            getattr(h, name + "_buf")[len(bigger) - 1] = 3
            assert getattr(h, name)[-1] == 3
        getattr(h, name)[:] = 1  # and writes to the array show in the buffer
        assert all(x == 1 for x in getattr(h, name + "_buf"))


def test_column_is_a_copy_that_shares_memory_with_its_buffer() -> None:
    source = np.arange(5, dtype=np.float64)
    buffer, array = column(source)
    buffer[2] = 9.5
    assert array[2] == 9.5 and source[2] == 2.0
    assert np.shares_memory(array, np.frombuffer(buffer, dtype=np.float64))
