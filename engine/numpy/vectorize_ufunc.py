"""``vectorize`` (with gufunc ``signature``s, through ``vmap``), ``ufunc`` and
``frompyfunc`` (``__call__``, ``reduce``, ``accumulate``, ``outer``, ``at``,
``reduceat`` built from the scalar function), and ``fromfunction``."""

from __future__ import annotations

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
        from ..api import vmap

        jnp = _jnp()
        excluded = {i for i in self.excluded if isinstance(i, int)}
        excluded_kw = {k: v for k, v in kwargs.items() if k in self.excluded}
        kwargs = {k: v for k, v in kwargs.items() if k not in self.excluded}
        if kwargs:
            raise NotImplementedError("vectorize: keyword arguments must be excluded")
        arr_pos = [i for i in range(len(args)) if i not in excluded]
        arrs = [jnp.asarray(args[i]) for i in arr_pos]
        if self.signature is None:
            in_core = [()] * len(arrs)
            out_core = None
        else:
            in_core, out_core = _parse_signature(self.signature)
            if len(in_core) != len(arrs):
                raise TypeError(
                    f"wrong number of positional arguments: expected {len(in_core)}, got {len(arrs)}"
                )
        sizes = {}
        loop_shapes = []
        for a, core in zip(arrs, in_core):
            if a.ndim < len(core):
                raise ValueError(
                    f"input with shape {a.shape} does not have enough dimensions for its core dimensions {core}"
                )
            core_shape = a.shape[a.ndim - len(core) :]
            for d, n in zip(core, core_shape):
                if sizes.setdefault(d, n) != n:
                    raise ValueError(
                        f"inconsistent size for core dimension {d!r}: {sizes[d]} vs {n}"
                    )
            loop_shapes.append(a.shape[: a.ndim - len(core)])
        loop = np.broadcast_shapes(*loop_shapes) if loop_shapes else ()
        arrs = [
            jnp.broadcast_to(a, loop + a.shape[a.ndim - len(c) :]) for a, c in zip(arrs, in_core)
        ]

        def f(*xs):
            full = list(args)
            for i, x in zip(arr_pos, xs):
                full[i] = x
            out = self.pyfunc(*full, **excluded_kw)
            return jnp.asarray(out) if not isinstance(out, tuple) else tuple(map(jnp.asarray, out))

        g = f
        for _ in range(len(loop)):
            g = vmap(g)
        out = g(*arrs)
        if out_core is not None and len(out_core) > 1 and not isinstance(out, tuple):
            raise ValueError("vectorize: function returned one output, signature names several")
        return out


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
