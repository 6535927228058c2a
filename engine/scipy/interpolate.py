"""``engine.scipy.interpolate``: ``RegularGridInterpolator`` (linear and nearest), as JAX
has it: outside the grid it extrapolates, or gives ``fill_value`` (NaN by default)."""

from __future__ import annotations

import itertools

import numpy as np

from .. import dtypes, tree_util
from .. import numpy as jnp
from ..numpy._util import check_arraylike, promote_dtypes_inexact

__all__ = ["RegularGridInterpolator"]


def _as_points(xi, ndim):
    """Sample points as an array of shape (..., ndim)."""
    if isinstance(xi, tuple) and len(xi) == 1:
        xi = xi[0]
    if isinstance(xi, tuple):
        parts = jnp.broadcast_arrays(*xi)
        return jnp.stack(
            [jnp.asarray(p, dtype=dtypes.default_float_dtype()) for p in parts], axis=-1
        )
    check_arraylike("_ndim_coords_from_arrays", xi)
    xi = jnp.asarray(xi)
    if xi.ndim == 1:
        xi = xi.reshape(-1, ndim)
    return xi


class RegularGridInterpolator:
    """Interpolation on a rectilinear grid ``points`` (one increasing 1-D array per
    dimension) of ``values`` (which may carry trailing dimensions)."""

    def __init__(self, points, values, method="linear", bounds_error=False, fill_value=np.nan):
        if method not in ("linear", "nearest"):
            raise ValueError(f"method {method!r} is not defined")
        self.method = method
        self.bounds_error = bounds_error
        if bounds_error:
            raise NotImplementedError("`bounds_error` takes no effect under JIT")
        check_arraylike("RegularGridInterpolator", values)
        if len(points) > np.ndim(values):
            raise ValueError(
                f"there are {len(points)} point arrays, but values has {np.ndim(values)} dimensions"
            )
        (values,) = promote_dtypes_inexact(values)
        values = jnp.asarray(values)
        if fill_value is not None:
            check_arraylike("RegularGridInterpolator", fill_value)
            fill_value = jnp.asarray(fill_value)
            if not jnp.can_cast(fill_value.dtype, values.dtype, casting="same_kind"):
                raise ValueError(
                    "fill_value must be either 'None' or of a type compatible with values"
                )
        self.fill_value = fill_value
        check_arraylike("RegularGridInterpolator", *points)
        self.grid = tuple(jnp.asarray(p) for p in points)
        self.values = values

    def __call__(self, xi, method=None):
        method = self.method if method is None else method
        if method not in ("linear", "nearest"):
            raise ValueError(f"method {method!r} is not defined")
        ndim = len(self.grid)
        xi = _as_points(xi, ndim)
        if xi.shape[-1] != ndim:
            raise ValueError(
                f"the requested sample points xi have dimension {xi.shape[1]}, but this "
                f"RegularGridInterpolator has dimension {ndim}"
            )
        lead = xi.shape[:-1]
        xi = xi.reshape(-1, xi.shape[-1])
        cells, fracs, outside = self._locate(xi.T)
        if method == "linear":
            out = self._linear(cells, fracs)
        else:
            out = self._nearest(cells, fracs)
        if self.fill_value is not None:
            mask = outside.reshape(out.shape[:1] + (1,) * (out.ndim - 1))
            out = jnp.where(mask, self.fill_value, out)
        return out.reshape(lead + self.values.shape[ndim:])

    def _locate(self, xi):
        """Per dimension: the cell index i (g[i] <= x < g[i+1], clamped to the grid),
        the position within the cell in [0, 1], and whether x is off the grid."""
        cells, fracs = [], []
        outside = jnp.zeros((xi.shape[1],), dtype=bool)
        for x, g in zip(xi, self.grid):
            i = jnp.searchsorted(g, x) - 1
            i = jnp.where(i < 0, 0, i)
            i = jnp.where(i > g.size - 2, g.size - 2, i)
            cells.append(i)
            fracs.append((x - g[i]) / (g[i + 1] - g[i]))
            outside = outside | (x < g[0]) | (x > g[-1])
        return cells, fracs, outside

    def _linear(self, cells, fracs):
        trailing = (slice(None),) + (None,) * (self.values.ndim - len(cells))
        out = jnp.asarray(0.0)
        # sum over the 2^d corners of each cell, weighted by the opposite sub-volume
        for corner in itertools.product(*[(0, 1) for _ in cells]):
            weight = jnp.asarray(1.0)
            for up, t in zip(corner, fracs):
                weight = weight * (t if up else 1 - t)
            idx = tuple(i + 1 if up else i for up, i in zip(corner, cells))
            out = out + self.values[idx] * weight[trailing]
        return out

    def _nearest(self, cells, fracs):
        return self.values[tuple(jnp.where(t <= 0.5, i, i + 1) for i, t in zip(cells, fracs))]


tree_util.register_pytree_node(
    RegularGridInterpolator,
    lambda obj: ((obj.grid, obj.values, obj.fill_value), (obj.method, obj.bounds_error)),
    lambda aux, children: RegularGridInterpolator(*children[:2], *aux, *children[2:]),
)
