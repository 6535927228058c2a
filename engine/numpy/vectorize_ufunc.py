"""``vectorize`` (with gufunc ``signature``s, through ``vmap``), ``ufunc`` and
``frompyfunc`` (``__call__``, ``reduce``, ``accumulate``, ``outer``, ``at``,
``reduceat`` built from the scalar function), and ``fromfunction``."""

from __future__ import annotations

import builtins
import re

import numpy as np

__all__ = ["vectorize", "ufunc", "frompyfunc", "fromfunction"]


def _jnp():
    from .. import numpy as jnp

    return jnp


_DIM = r"\w+"
_CORE = rf"(?:{_DIM}(?:,{_DIM})*)?"
_ARGS = rf"\({_CORE}\)(?:,\({_CORE}\))*"
_SIG = re.compile(rf"^{_ARGS}->{_ARGS}$")


def _parse_signature(sig):
    sig = sig.replace(" ", "")
    if not _SIG.match(sig):
        raise ValueError(f"not a valid gufunc signature: {sig}")
    ins, outs = sig.split("->")
    parse = lambda s: [tuple(re.findall(_DIM, a)) for a in re.findall(r"\(([^)]*)\)", s)]  # noqa: E731
    return parse(ins), parse(outs)


class vectorize:
    """A function of core-shaped arrays mapped over the broadcast leading dimensions of
    its arguments (``signature`` as NumPy's gufuncs; none: scalars)."""

    def __init__(self, pyfunc, *, excluded=frozenset(), signature=None):
        self.pyfunc = pyfunc
        self.excluded = excluded
        self.signature = signature
        self.__doc__ = getattr(pyfunc, "__doc__", None)
        self.__name__ = getattr(pyfunc, "__name__", "vectorized")
        self.__wrapped__ = pyfunc

    def __call__(self, *args, **kwargs):
        """As JAX's: size-1 loop dimensions are squeezed away and each loop dimension is
        one ``vmap`` (``in_axes=None`` for the arguments that lack it), so no argument is
        broadcast first; loop dimensions no argument has come back by ``expand_dims``."""
        from ..api import vmap

        jnp = _jnp()
        context = (
            f"on vectorized function with excluded={self.excluded!r} and "
            f"signature={self.signature!r}"
        )
        excluded = {i for i in self.excluded if isinstance(i, int)}
        excluded_kw = {k: v for k, v in kwargs.items() if k in self.excluded}
        if builtins.any(k not in self.excluded for k in kwargs):
            raise NotImplementedError("vectorize: keyword arguments must be excluded")
        dynamic = [i for i in range(len(args)) if i not in excluded]
        if self.signature is None:
            in_core, out_core = [()] * len(dynamic), None
        else:
            in_core, out_core = _parse_signature(self.signature)
            if len(in_core) != len(dynamic):
                raise TypeError(
                    f"wrong number of positional arguments: expected {len(in_core)}, "
                    f"got {len(dynamic)} {context}"
                )
        nones = [k for k, i in enumerate(dynamic) if args[i] is None]
        if nones:  # passed through unmapped, as excluded arguments
            if builtins.any(in_core[k] != () for k in nones):
                raise ValueError(
                    f"Cannot pass None at locations {set(nones)} with signature={self.signature!r}"
                )
            in_core = [c for k, c in enumerate(in_core) if k not in nones]
            dynamic = [i for k, i in enumerate(dynamic) if k not in nones]
        arrs = [jnp.asarray(args[i]) for i in dynamic]
        sizes: dict = {}
        loop_shapes = []
        for a, core in zip(arrs, in_core):
            _check_core_dims(sizes, a.shape, core, context, is_input=True)
            loop_shapes.append(a.shape[: a.ndim - len(core)])
        try:
            loop = np.broadcast_shapes(*loop_shapes)
        except ValueError:
            raise ValueError(
                f"Incompatible shapes for broadcasting: shapes={[tuple(s) for s in loop_shapes]}"
            ) from None

        def call(*xs):
            full = list(args)
            for i, x in zip(dynamic, xs):
                full[i] = x
            out = self.pyfunc(*full, **excluded_kw)
            if out_core is not None:
                _check_outputs(out, dict(sizes), out_core, context)
            return jnp.asarray(out) if not isinstance(out, tuple) else tuple(map(jnp.asarray, out))

        squeezed, rev_filled = [], []
        for a, core in zip(arrs, in_core):
            loop_shape = a.shape[: a.ndim - len(core)]
            rev_filled.append(((1,) * (len(loop) - len(loop_shape)) + loop_shape)[::-1])
            ones = tuple(d for d, n in enumerate(loop_shape) if n == 1)
            squeezed.append(jnp.squeeze(a, axis=ones) if ones else a)
        mapped, expand = call, []
        for negdim, axis_sizes in enumerate(zip(*rev_filled)):
            in_axes = tuple(None if n == 1 else 0 for n in axis_sizes)
            if builtins.all(ax is None for ax in in_axes):
                expand.append(len(loop) - 1 - negdim)
            else:
                mapped = vmap(mapped, in_axes)
        out = mapped(*squeezed)
        if not expand:
            return out
        if isinstance(out, tuple):
            return tuple(jnp.expand_dims(r, axis=tuple(expand)) for r in out)
        return jnp.expand_dims(out, axis=tuple(expand))


def _check_core_dims(sizes, shape, core, context, *, is_input):
    """Check ``shape``'s core dimensions against (and record them in) ``sizes``."""
    if is_input and len(shape) < len(core):
        raise ValueError(
            f"input with shape {tuple(shape)!r} does not have enough dimensions for all core "
            f"dimensions {core!r} {context}"
        )
    if not is_input and len(shape) != len(core):
        raise ValueError(
            f"output shape {tuple(shape)!r} does not match core dimensions {core!r} {context}"
        )
    core_shape = tuple(shape[len(shape) - len(core) :]) if core else ()
    for dim, size in zip(core, core_shape):
        if sizes.setdefault(dim, size) != size:
            raise ValueError(
                f"inconsistent size for core dimension {dim!r}: {size} vs {sizes[dim]} {context}"
            )


def _check_outputs(out, sizes, out_core, context):
    if len(out_core) > 1 and not isinstance(out, tuple):
        raise TypeError(
            f"output must be a tuple when multiple outputs are expected, got: {out!r}\n{context}"
        )
    outs = out if isinstance(out, tuple) else (out,)
    if len(outs) != len(out_core):
        raise TypeError(
            f"wrong number of output arguments: expected {len(out_core)}, got {len(outs)} {context}"
        )
    for o, core in zip(outs, out_core):
        _check_core_dims(sizes, np.shape(o), core, context, is_input=False)


class ufunc:
    """A universal function made from a scalar Python function ``func`` of ``nin``
    inputs and ``nout`` outputs, with NumPy's ufunc methods."""

    def __init__(
        self,
        func,
        /,
        nin,
        nout,
        *,
        name=None,
        nargs=None,
        identity=None,
        call=None,
        reduce=None,
        accumulate=None,
        at=None,
        reduceat=None,
    ):
        self._func = func
        self._call = vectorize(func) if call is None else call
        self.__name__ = name or getattr(func, "__name__", "ufunc")
        self.nin, self.nout = int(nin), int(nout)
        self.nargs = self.nin if nargs is None else nargs
        self.identity = identity
        self._reduce, self._accumulate, self._at, self._reduceat = reduce, accumulate, at, reduceat

    def __repr__(self):
        return f"<jnp.ufunc '{self.__name__}'>"

    def __call__(self, *args, out=None, where=None):
        if out is not None:
            raise NotImplementedError(f"out argument of {self}")
        if where is not None:
            raise NotImplementedError(f"where argument of {self}")
        return self._call(*args)

    def _binary(self, what):
        if self.nin != 2 or self.nout != 1:
            raise ValueError(
                f"{what} only supported for binary ufuncs with a single output; got nin={self.nin}, nout={self.nout}"
            )

    def reduce(self, a, axis=0, dtype=None, out=None, keepdims=False, initial=None, where=None):
        from ..lax import scan

        jnp = _jnp()
        self._binary(f"{self.__name__}.reduce")
        if self._reduce is not None:
            return self._reduce(
                a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, initial=initial, where=where
            )
        if out is not None or where is not None:
            raise NotImplementedError(f"out/where arguments of {self}.reduce")
        a = jnp.asarray(a)
        if dtype is not None:
            a = a.astype(dtype)
        if axis is None:
            a, axis, nd = jnp.ravel(a), 0, a.ndim
        else:
            nd = None
            axis = axis % a.ndim
        x = jnp.moveaxis(a, axis, 0)
        if initial is None and self.identity is not None:
            initial = self.identity
        if initial is None:
            if x.shape[0] == 0:
                raise ValueError(
                    f"zero-size array to reduction operation {self.__name__} which has no identity"
                )
            carry, rest = x[0], x[1:]
        else:
            carry, rest = jnp.full(x.shape[1:], initial, x.dtype), x
        step = lambda c, v: (jnp.asarray(self._call(c, v)).astype(c.dtype), None)  # noqa: E731
        res = scan(step, carry, rest)[0] if rest.shape[0] else carry
        if keepdims:
            res = jnp.reshape(res, (1,) * nd) if nd is not None else jnp.expand_dims(res, axis)
        return res

    def accumulate(self, a, axis=0, dtype=None, out=None):
        from ..lax import scan

        jnp = _jnp()
        self._binary(f"{self.__name__}.accumulate")
        if self._accumulate is not None:
            return self._accumulate(a, axis=axis, dtype=dtype, out=out)
        a = jnp.asarray(a)
        if dtype is not None:
            a = a.astype(dtype)
        x = jnp.moveaxis(a, axis, 0)
        if x.shape[0] <= 1:
            return a

        def step(c, v):
            r = jnp.asarray(self._call(c, v)).astype(c.dtype)
            return r, r

        _, rest = scan(step, x[0], x[1:])
        return jnp.moveaxis(jnp.concatenate([x[:1], rest], 0), 0, axis)

    def outer(self, A, B, /):
        from ..api import vmap

        jnp = _jnp()
        self._binary(f"{self.__name__}.outer")
        A, B = jnp.ravel(jnp.asarray(A)), jnp.ravel(jnp.asarray(B))
        f = vmap(vmap(self._call, (None, 0)), (0, None))
        return jnp.reshape(f(A, B), np.shape(A) + np.shape(B))

    def at(self, a, indices, b=None, /, *, inplace=True):
        from ..lax import fori_loop

        jnp = _jnp()
        if inplace:
            raise NotImplementedError(
                "jnp.ufunc.at does not support inplace=True, because JAX arrays are immutable. "
                "Use inplace=False to return an updated array."
            )
        if self._at is not None:
            return self._at(a, indices, b, inplace=False)
        a = jnp.asarray(a)
        idx = jnp.asarray(indices)
        n = idx.shape[0]
        if b is None:
            vals = None
        else:
            vals = jnp.broadcast_to(jnp.asarray(b).astype(a.dtype), idx.shape + a.shape[1:])

        def body(i, acc):
            j = idx[i]
            new = self._call(acc[j]) if vals is None else self._call(acc[j], vals[i])
            return acc.at[j].set(jnp.asarray(new).astype(acc.dtype))

        return fori_loop(0, n, body, a)

    def reduceat(self, a, indices, axis=0, dtype=None, out=None):
        jnp = _jnp()
        self._binary(f"{self.__name__}.reduceat")
        if self._reduceat is not None:
            return self._reduceat(a, indices, axis=axis, dtype=dtype, out=out)
        from ._util import concrete_value

        a = jnp.asarray(a)
        ind = np.asarray(
            concrete_value(jnp.asarray(indices), "ufunc.reduceat needs concrete indices")
        )
        x = jnp.moveaxis(a, axis, 0)
        n = x.shape[0]
        outs = []
        for k, s in enumerate(ind):
            e = int(ind[k + 1]) if k + 1 < len(ind) else n
            seg = x[int(s) : e] if e > s else x[int(s) : int(s) + 1]
            outs.append(self._fold(seg, dtype))
        return jnp.moveaxis(jnp.stack(outs, 0), 0, axis)

    def _fold(self, x, dtype):
        """Reduce along axis 0 from the first element (no identity)."""
        from ..lax import scan

        jnp = _jnp()
        if dtype is not None:
            x = x.astype(dtype)
        step = lambda c, v: (jnp.asarray(self._call(c, v)).astype(c.dtype), None)  # noqa: E731
        return scan(step, x[0], x[1:])[0] if x.shape[0] > 1 else x[0]


def frompyfunc(func, /, nin, nout, *, identity=None):
    """A ``ufunc`` from a scalar function (vectorized with ``vectorize``)."""
    return ufunc(func, nin, nout, identity=identity)


def fromfunction(function, shape, *, dtype=float, **kwargs):
    """``function`` applied to the coordinate arrays of an array of ``shape``."""
    from .. import dtypes
    from ..api import vmap

    jnp = _jnp()
    shape = tuple(int(s) for s in shape)
    dt = dtypes.canonicalize_dtype(dtype)
    f = lambda *idx: function(*idx, **kwargs)  # noqa: E731
    for i in range(len(shape) - 1, -1, -1):
        f = vmap(f, in_axes=tuple(0 if j == i else None for j in range(len(shape))))
    return f(*(jnp.arange(s, dtype=dt) for s in shape))
