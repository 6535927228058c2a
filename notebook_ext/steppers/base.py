"""Navigation shared by the steppers: a list of steps and a position in it."""

from __future__ import annotations

import functools

from engine import core, dtypes, tree_util


class Stepper:
    """``steps`` (plain data), ``position``, ``go(k)`` / ``next()`` / ``prev()`` /
    ``first()`` / ``last()``, ``state()`` (a dict describing the current step) and
    ``error`` (an ErrorInfo when the function could not be traced, else None)."""

    title = "stepper"

    def __init__(self):
        self.steps = []
        self.position = 0
        self.error = None
        self._observers = []

    def __len__(self):
        return len(self.steps)

    @property
    def current(self):
        return self.steps[self.position] if self.steps else None

    def go(self, k):
        n = len(self.steps)
        k = 0 if n == 0 else max(0, min(int(k), n - 1))
        if k != self.position:
            self.position = k
            for fn in list(self._observers):
                fn(k)
        return self.state()

    def next(self):
        return self.go(self.position + 1)

    def prev(self):
        return self.go(self.position - 1)

    def first(self):
        return self.go(0)

    def last(self):
        return self.go(len(self.steps) - 1)

    def observe(self, fn):
        self._observers.append(fn)

    def state(self, k=None):
        raise NotImplementedError


def arg_aval(x):
    """The aval a transformation gives an argument (a ShapeDtypeStruct-like value too)."""
    aval = getattr(x, "aval", None)
    if aval is not None:
        return aval
    if hasattr(x, "shape") and hasattr(x, "dtype") and not hasattr(x, "__array__"):
        return core.ShapedArray(
            x.shape, dtypes.canonicalize_dtype(x.dtype), getattr(x, "weak_type", False)
        )
    return core.get_aval(x)


def flat_avals(args):
    flat, tree = tree_util.tree_flatten(tuple(args))
    return flat, tree, [arg_aval(x) for x in flat]


def flatten_fun(fun, in_tree, store, kwargs=None):
    """``fun`` on pytrees -> a function on flat leaves; the output treedef goes into
    ``store``."""

    def flat_fun(*flat):
        out = fun(*tree_util.tree_unflatten(in_tree, flat), **(kwargs or {}))
        leaves, out_tree = tree_util.tree_flatten(out)
        store.append(out_tree)
        for x in leaves:
            if not core.valid_array_value(x):
                raise TypeError(
                    f"{fun_name(fun)} returned a value of type {type(x).__name__}; "
                    "transformed functions must return arrays (or pytrees of arrays)"
                )
        return leaves

    return flat_fun


def check_argnums(argnums, nargs):
    """``argnums`` as a tuple of non-negative ints (errors as ``grad`` gives them)."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise ValueError(f"grad: argnums must be a non-empty int or tuple of ints, got {argnums}")
    if len({i % nargs if nargs else i for i in nums}) != len(nums):
        raise ValueError(f"grad: argnums {argnums} names an argument more than once")
    for i in nums:
        if not -nargs <= i < nargs:
            raise TypeError(
                f"differentiating with respect to argnums={argnums} requires at least "
                f"{max(nums) + 1} positional arguments to be passed by the caller, but "
                f"got only {nargs} positional arguments."
            )
    return tuple(i % nargs for i in nums)


def fun_name(f):
    if isinstance(f, functools.partial):
        return fun_name(f.func)
    return getattr(f, "__name__", type(f).__name__)
