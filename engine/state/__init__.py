"""Mutable array references (JAX's ``jax.ref``): ``new_ref``, ``freeze``, ``Ref`` and
the ``get``/``swap``/``addupdate`` primitives (``primitives.py``), their types
(``types.py``) and how a program using them is compiled (``discharge.py``)."""

from __future__ import annotations

from .. import array_methods as _array_methods  # noqa: F401 (Tracer's indexing, wrapped below)
from .. import core
from .. import dispatch as _dispatch
from ..custom_vjp_rules import custom_lin_p as _custom_lin_p
from ..interpreters import transpose as _transpose
from . import discharge
from .primitives import (
    addupdate_p,
    empty_ref,
    empty_ref_p,
    free_ref,
    free_ref_p,
    freeze,
    freeze_p,
    get_p,
    new_ref,
    new_ref_p,
    ref_addupdate,
    ref_get,
    ref_set,
    ref_swap,
    swap_p,
)
from .types import AbstractRef, Ref

__all__ = [
    "AbstractRef",
    "Ref",
    "addupdate_p",
    "discharge",
    "empty_ref",
    "empty_ref_p",
    "free_ref",
    "free_ref_p",
    "freeze",
    "freeze_p",
    "get_p",
    "new_ref",
    "new_ref_p",
    "ref_addupdate",
    "ref_get",
    "ref_set",
    "ref_swap",
    "swap_p",
]


def _install_tracer_indexing() -> None:
    """A tracer standing for a ref is indexed like a ``Ref`` (read, write)."""
    array_getitem = core.Tracer.__getitem__
    array_setitem = core.Tracer.__setitem__

    def __getitem__(self, idx):
        if type(self.aval) is AbstractRef:
            return ref_get(self, idx)
        return array_getitem(self, idx)

    def __setitem__(self, idx, value):
        if type(self.aval) is AbstractRef:
            return ref_set(self, idx, value)
        return array_setitem(self, idx, value)

    core.Tracer.__getitem__ = __getitem__  # type: ignore[method-assign]
    core.Tracer.__setitem__ = __setitem__  # type: ignore[method-assign]

    def ref_method(name, fn):
        def method(self, *args, **kwargs):
            if type(self.aval) is not AbstractRef:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            return fn(self, *args, **kwargs)

        method.__name__ = name
        setattr(core.Tracer, name, method)

    ref_method("addupdate", lambda r, x, idx=(): ref_addupdate(r, idx, x))
    ref_method("swap", lambda r, x, idx=(): ref_swap(r, idx, x))


# JAX's names in ``jax.ref``
get, swap, set, addupdate = ref_get, ref_swap, ref_set, ref_addupdate  # noqa: A001

_install_tracer_indexing()
# a custom_vjp rule may keep a ref among its residuals (to write cotangents into it)
_custom_lin_p.takes_refs = True
_transpose.ref_transpose_hook = (discharge.jaxpr_has_ref_eqns, discharge.transpose_hook)
_dispatch.ref_apply_hook = (Ref, discharge.eager_apply)
