"""``jnp.pad``, as JAX 0.10.2 builds it: the mode's body runs under one
``jit[name=_pad]`` whose static arguments are the pad widths, the mode, ``stat_length``,
``end_values`` and ``reflect_type`` (``constant_values`` is traced), with each mode's
equations in JAX's order (reflections through ``_flip``, edges and statistics through
``repeat``)."""

from __future__ import annotations

import builtins

import numpy as np

from .. import core, dtypes, lax
from ._jitted import as_jax_jits
from ._util import as_array, as_operand, check_arraylike, concrete_value, ndim_of, shape_of

_ALLOWED_KWARGS = {
    "empty": (),
    "edge": (),
    "wrap": (),
    "constant": ("constant_values",),
    "linear_ramp": ("end_values",),
    "maximum": ("stat_length",),
    "mean": ("stat_length",),
    "median": ("stat_length",),
    "minimum": ("stat_length",),
    "reflect": ("reflect_type",),
    "symmetric": ("reflect_type",),
}


def _concrete(v, name):
    if isinstance(v, (list, tuple)):
        return type(v)(_concrete(e, name) for e in v)
    if isinstance(v, core.Tracer):
        return concrete_value(v, f"{name} argument of jnp.pad")
    return v


def _broadcast_to_pairs(nvals, nd, name):
    """((before, after),) * nd from any of JAX's accepted shapes; the entries stay
    NumPy scalars (JAX's jaxprs print them as ``np.int64(1)``)."""
    try:
        nvals = np.asarray(_concrete(nvals, name))
    except ValueError as e:
        if "inhomogeneous shape" in str(e):
            raise TypeError(f"`{name}` entries must be the same shape: {nvals}") from e
        raise
    if nvals.shape == (nd, 2):
        return tuple((v[0], v[1]) for v in nvals)
    if nvals.shape == (1, 2):
        return tuple((nvals[0, 0], nvals[0, 1]) for _ in range(nd))
    if nvals.shape == (2,):
        return tuple((nvals[0], nvals[1]) for _ in range(nd))
    if nvals.shape == (1,):
        return tuple((nvals[0], nvals[0]) for _ in range(nd))
    if nvals.shape == ():
        v = nvals.flat[0]
        return tuple((v, v) for _ in range(nd))
    raise ValueError(
        f"jnp.pad: {name} with nd={nd} has unsupported shape {nvals.shape}. "
        f"Valid shapes are ({nd}, 2), (1, 2), (2,), (1,), or ()."
    )


def _is_dim(v):
    return isinstance(v, (int, np.integer)) or hasattr(v, "_is_symbolic_dim")


def pad(array, pad_width, mode="constant", **kwargs):
    """Pad an array (JAX's modes, or a callable mapped over each axis with ``vmap``)."""
    check_arraylike("pad", array)
    pad_width = _broadcast_to_pairs(pad_width, np.ndim(array), "pad_width")
    if pad_width and not all(_is_dim(p[0]) and _is_dim(p[1]) for p in pad_width):
        raise TypeError("`pad_width` must be of integral type.")
    if callable(mode):
        return _pad_func(as_array(as_operand(array)), pad_width, mode, **kwargs)
    try:
        unsupported = set(kwargs) - set(_ALLOWED_KWARGS[mode])
    except (KeyError, TypeError):
        raise NotImplementedError(f"Unimplemented padding mode '{mode}' for np.pad.") from None
    if unsupported:
        raise ValueError(f"unsupported keyword arguments for mode '{mode}': {unsupported}")
    return _pad(
        array,
        pad_width,
        mode,
        kwargs.get("constant_values", 0),
        kwargs.get("stat_length", None),
        kwargs.get("end_values", 0),
        kwargs.get("reflect_type", "even"),
    )


@as_jax_jits("_pad", ("pad_width", "mode", "stat_length", "end_values", "reflect_type"))
def _pad(array, pad_width, mode, constant_values, stat_length, end_values, reflect_type):
    from .reductions import amax, amin, mean
    from .statistics import median

    array = as_array(as_operand(array))
    nd = ndim_of(array)
    if nd == 0:
        return array
    pad_width = _broadcast_to_pairs(pad_width, nd, "pad_width")
    widths = np.array(pad_width)
    if widths.shape != (nd, 2):
        raise ValueError(f"Expected pad_width to have shape {(nd, 2)}; got {widths.shape}.")
    if np.any(widths < 0):
        raise ValueError("index can't contain negative values")
    if mode == "constant":
        return _pad_constant(array, pad_width, as_array(as_operand(constant_values)))
    if mode == "wrap":
        return _pad_wrap(array, pad_width)
    if mode in ("symmetric", "reflect"):
        return _pad_symmetric_or_reflect(array, pad_width, str(mode), reflect_type)
    if mode == "edge":
        return _pad_edge(array, pad_width)
    if mode == "linear_ramp":
        return _pad_linear_ramp(array, pad_width, _broadcast_to_pairs(end_values, nd, "end_values"))
    stat_funcs = {"maximum": amax, "minimum": amin, "mean": mean, "median": median}
    if mode in stat_funcs:
        if stat_length is not None:
            stat_length = _broadcast_to_pairs(stat_length, nd, "stat_length")
        return _pad_stats(array, pad_width, stat_length, stat_funcs[str(mode)])
    assert mode == "empty", mode
    return _pad_empty(array, pad_width)


def _check_no_padding(axis_padding, mode):
    if axis_padding[0] > 0 or axis_padding[1] > 0:
        raise ValueError(f"Cannot apply '{mode}' padding to empty axis")


def _weak_convert(x, dtype, array):
    return lax.convert_element_type(x, dtype, dtypes.is_weakly_typed(array))


def _pad_constant(array, pad_width, constant_values):
    nd = ndim_of(array)
    constant_values = _weak_convert(constant_values, array.dtype, array)
    cv_nd = ndim_of(constant_values)
    if cv_nd == 0:
        return lax.pad(array, constant_values, [(lo, hi, 0) for lo, hi in pad_width])
    if cv_nd == 1:
        if shape_of(constant_values)[-1] == 1:
            from .shape_ops import squeeze

            widths = [(lo, hi, 0) for lo, hi in pad_width]
            return lax.pad(array, squeeze(constant_values), widths)
        if shape_of(constant_values)[-1] != 2:
            raise ValueError(
                "jnp.pad: constant_values has unsupported shape "
                f"{shape_of(constant_values)}. If the shape is 1D or 2D, the "
                "last dimension must be of size 1 or 2."
            )
    from .shape_broadcast import broadcast_to

    constant_values = broadcast_to(constant_values, (nd, 2))
    for i in range(nd):
        widths = [(0, 0, 0)] * nd
        if pad_width[i][0] != 0:
            widths[i] = (pad_width[i][0], 0, 0)
            array = lax.pad(array, constant_values[i, 0], widths)
        if pad_width[i][1] != 0:
            widths[i] = (0, pad_width[i][1], 0)
            array = lax.pad(array, constant_values[i, 1], widths)
    return array


def _pad_wrap(array, pad_width):
    for i in range(ndim_of(array)):
        size = shape_of(array)[i]
        if size == 0:
            _check_no_padding(pad_width[i], "wrap")
            continue
        left_repeats, left_rem = divmod(pad_width[i][0], size)
        right_repeats, right_rem = divmod(pad_width[i][1], size)
        parts = []
        if left_rem > 0:
            parts.append(lax.slice_in_dim(array, size - left_rem, size, axis=i))
        parts += (left_repeats + right_repeats + 1) * [array]
        if right_rem > 0:
            parts.append(lax.slice_in_dim(array, 0, right_rem, axis=i))
        array = lax.concatenate(parts, i)
    return array


def _pad_symmetric_or_reflect(array, pad_width, mode, reflect_type):
    from .shape_ops import flip

    assert mode in ("symmetric", "reflect")
    if reflect_type not in ("even", "odd"):
        raise AssertionError(reflect_type)
    for i in range(ndim_of(array)):
        axis_size = shape_of(array)[i]
        if axis_size == 0:
            _check_no_padding(pad_width[i], mode)
            continue
        if pad_width[i][0] == 0 and pad_width[i][1] == 0:
            continue

        def build(array, padding, before, i=i, axis_size=axis_size):
            if before:
                edge = lax.slice_in_dim(array, 0, 1, axis=i)
            else:
                edge = lax.slice_in_dim(array, -1, None, axis=i)
            offset = 1 if (mode == "reflect" and axis_size > 1) else 0
            while padding > 0:
                cur = builtins.min(padding, axis_size - offset)
                padding -= cur
                if before:
                    start, stop = offset, offset + cur
                else:
                    start = -(cur + offset)
                    stop = None if (mode == "symmetric" or axis_size == 1) else -1
                x = flip(lax.slice_in_dim(array, start, stop, axis=i), axis=i)
                if reflect_type == "odd":
                    x = 2 * edge - x
                    if axis_size > 1:
                        if before:
                            edge = lax.slice_in_dim(x, 0, 1, axis=i)
                        else:
                            edge = lax.slice_in_dim(x, -1, None, axis=i)
                parts = [x, array] if before else [array, x]
                array = lax.concatenate(parts, i)
            return array

        array = build(array, pad_width[i][0], True)
        array = build(array, pad_width[i][1], False)
    return array


def _pad_edge(array, pad_width):
    from .shape_broadcast import repeat

    for i in range(ndim_of(array)):
        n = shape_of(array)[i]
        if n == 0:
            _check_no_padding(pad_width[i], "edge")
            continue
        before, after = pad_width[i]
        pad_before = repeat(lax.slice_in_dim(array, 0, 1, axis=i), before, axis=i)
        pad_after = repeat(lax.slice_in_dim(array, n - 1, n, axis=i), after, axis=i)
        array = lax.concatenate([pad_before, array, pad_after], i)
    return array


def _pad_linear_ramp(array, pad_width, end_values):
    from .creation import linspace
    from .shape_ops import flip

    for axis in range(ndim_of(array)):
        edge_before = lax.slice_in_dim(array, 0, 1, axis=axis)
        edge_after = lax.slice_in_dim(array, -1, None, axis=axis)
        ramps = []
        for k, edge in ((0, edge_before), (1, edge_after)):
            ramp = linspace(
                start=end_values[axis][k],
                stop=edge.squeeze(axis),
                num=pad_width[axis][k],
                endpoint=False,
                dtype=array.dtype,
                axis=axis,
            )
            ramps.append(_weak_convert(ramp, array.dtype, array))
        ramp_after = flip(ramps[1], axis)
        array = lax.concatenate([ramps[0], array, ramp_after], axis)
    return array


def _pad_stats(array, pad_width, stat_length, stat_func):
    from .shape_broadcast import repeat
    from .ufuncs_math import round as round_

    for i in range(ndim_of(array)):
        if stat_length is None:
            stat_before = stat_func(array, axis=i, keepdims=True)
            stat_after = stat_before
        else:
            length = shape_of(array)[i]
            before, after = stat_length[i]
            if before == 0 or after == 0:
                raise ValueError("stat_length of 0 yields no value for padding")
            before, after = builtins.min(before, length), builtins.min(after, length)
            slice_before = lax.slice_in_dim(array, 0, before, axis=i)
            slice_after = lax.slice_in_dim(array, -after, None, axis=i)
            stat_before = stat_func(slice_before, axis=i, keepdims=True)
            stat_after = stat_func(slice_after, axis=i, keepdims=True)
        if np.issubdtype(array.dtype, np.integer):
            stat_before, stat_after = round_(stat_before), round_(stat_after)
        stat_before = _weak_convert(stat_before, array.dtype, array)
        stat_after = _weak_convert(stat_after, array.dtype, array)
        pad_before = repeat(stat_before, pad_width[i][0], axis=i)
        pad_after = repeat(stat_after, pad_width[i][1], axis=i)
        array = lax.concatenate([pad_before, array, pad_after], i)
    return array


def _pad_empty(array, pad_width):
    from .creation import empty_like

    for i in range(ndim_of(array)):
        shape = shape_of(array)
        before = empty_like(array, shape=shape[:i] + (pad_width[i][0],) + shape[i + 1 :])
        after = empty_like(array, shape=shape[:i] + (pad_width[i][1],) + shape[i + 1 :])
        array = lax.concatenate([before, array, after], i)
    return array


def _pad_func(array, pad_width, func, **kwargs):
    from .array_edit import apply_along_axis

    padded = _pad_constant(array, pad_width, np.asarray(0))
    for axis in range(ndim_of(padded)):
        padded = apply_along_axis(func, axis, padded, pad_width[axis], axis, kwargs)
    return padded
