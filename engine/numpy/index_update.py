"""``x.at[idx].set/add/multiply/divide/power/min/max/get/apply``: the update half of
NumPy indexing on engine arrays (the index plans are ``indexing``'s)."""

from __future__ import annotations

from .. import core, lax
from .indexing import _rewriting_take, _scatter_update
from .ufuncs import divide, power


class _IndexUpdateHelper:
    """``x.at``: ``x.at[idx]`` gives an _IndexUpdateRef for functional updates."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, index):
        return _IndexUpdateRef(self.array, index)

    def __repr__(self):
        return f"_IndexUpdateHelper({self.array!r})"


class _IndexUpdateRef:
    """``x.at[idx]``: each method returns an updated copy of x (``get`` reads)."""

    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array, self.index = array, index

    def __repr__(self):
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"

    def get(
        self,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
        fill_value=None,
        wrap_negative_indices=True,
    ):
        return _rewriting_take(
            self.array,
            self.index,
            indices_are_sorted=indices_are_sorted,
            unique_indices=unique_indices,
            mode=mode,
            fill_value=fill_value,
            normalize_indices=wrap_negative_indices,
        )

    def _update(
        self,
        op,
        values,
        indices_are_sorted,
        unique_indices,
        mode,
        wrap_negative_indices,
        array=None,
    ):
        return _scatter_update(
            self.array if array is None else array,
            self.index,
            values,
            op,
            indices_are_sorted=indices_are_sorted,
            unique_indices=unique_indices,
            mode=mode,
            normalize_indices=wrap_negative_indices,
        )

    def set(
        self,
        values,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
        wrap_negative_indices=True,
    ):
        return self._update(
            lax.scatter, values, indices_are_sorted, unique_indices, mode, wrap_negative_indices
        )

    def add(
        self,
        values,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
        wrap_negative_indices=True,
    ):
        return self._update(
            lax.scatter_add, values, indices_are_sorted, unique_indices, mode, wrap_negative_indices
        )

    def subtract(
        self,
        values,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
        wrap_negative_indices=True,
    ):
        return self._update(
            lax.scatter_sub, values, indices_are_sorted, unique_indices, mode, wrap_negative_indices
        )

    def multiply(
        self,
        values,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
        wrap_negative_indices=True,
    ):
        return self._update(
            lax.scatter_mul, values, indices_are_sorted, unique_indices, mode, wrap_negative_indices
        )

    mul = multiply

    def divide(
        self,
        values,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
        wrap_negative_indices=True,
    ):

        return divide(
            self.array,
            self._update(
                lax.scatter_mul,
                values,
                indices_are_sorted,
                unique_indices,
                mode,
                wrap_negative_indices,
                array=_ones_like(self.array),
            ),
        )

    def power(
        self,
        values,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
        wrap_negative_indices=True,
    ):

        return power(
            self.array,
            self._update(
                lax.scatter_mul,
                values,
                indices_are_sorted,
                unique_indices,
                mode,
                wrap_negative_indices,
                array=_ones_like(self.array),
            ),
        )

    def min(
        self,
        values,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
        wrap_negative_indices=True,
    ):
        return self._update(
            lax.scatter_min, values, indices_are_sorted, unique_indices, mode, wrap_negative_indices
        )

    def max(
        self,
        values,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
        wrap_negative_indices=True,
    ):
        return self._update(
            lax.scatter_max, values, indices_are_sorted, unique_indices, mode, wrap_negative_indices
        )


def _ones_like(x):
    aval = core.get_aval(x)
    return lax.convert_element_type(lax.full(aval.shape, 1, aval.dtype), aval.dtype, aval.weak_type)
