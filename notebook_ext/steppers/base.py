"""Navigation shared by the steppers: a list of steps and a position in it."""

from __future__ import annotations

import functools

from engine import tree_util
from engine.jit import _arg_aval


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


def flat_avals(args):
    flat, tree = tree_util.tree_flatten(tuple(args))
    return flat, tree, [_arg_aval(x) for x in flat]


def fun_name(f):
    if isinstance(f, functools.partial):
        return fun_name(f.func)
    return getattr(f, "__name__", type(f).__name__)
