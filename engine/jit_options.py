"""A ``jit`` wrapper's options: which arguments are static (and how their values key the
cache), which are donated, where and how it compiles; and the checks of those options
against the function's signature that JAX makes when ``jit`` is applied."""

from __future__ import annotations

import inspect

import numpy as np

from . import dispatch, runtime, tree_util


class Options:
    """A wrapper's options beyond the function: how arguments split into static and
    dynamic ones, what is donated, where and how it compiles. Holds no reference to
    the function (the stage objects in the weakly keyed cache keep one of these)."""

    __slots__ = (
        "name",
        "static_argnums",
        "static_argnames",
        "donate_argnums",
        "device",
        "backend",
        "compiler_options",
        "shardings",
        "key",
        "static_set",
        "keep_unused",
        "layouts",
    )

    def __init__(
        self,
        name,
        static_argnums,
        static_argnames,
        donate_argnums,
        device,
        backend,
        copts,
        shardings=(None, None),
        keep_unused=False,
        layouts=None,
    ):
        self.name = name
        self.static_argnums = frozenset(static_argnums)
        self.static_argnames = frozenset(static_argnames)
        self.static_set = self.static_argnums | self.static_argnames  # positions and names
        self.donate_argnums = tuple(sorted(set(donate_argnums)))
        self.device, self.backend = device, backend
        self.compiler_options = dict(copts) if copts else None
        # keep every argument in the module (JAX's keep_unused); else the unused are pruned
        self.keep_unused = bool(keep_unused)
        # (in_shardings, out_shardings) as the user gave them: resolved per call into an
        # SpmdTarget (engine/sharding/jit_shardings.py); part of the key.
        self.shardings = shardings
        # jit's Formats' layouts (engine/experimental/layout.py JitLayouts), or None
        self.layouts = layouts
        try:
            hash(shardings)
        except TypeError:
            shardings = repr(shardings)
        self.key = (
            self.static_argnums,
            self.static_argnames,
            self.donate_argnums,
            device,
            backend,
            freeze_options(self.compiler_options),
            shardings,
            self.keep_unused,
        ) + (() if layouts is None else (layouts,))

    def split(self, args, kwargs):
        """(static, dynamic positional args, dynamic keyword args); ``static`` is a
        hashable tuple of (position or name, Static)."""
        static, dyn_args = [], []
        for i, a in enumerate(args):
            if i in self.static_argnums:
                static.append((i, _hashable_static(a, i)))
            else:
                dyn_args.append(a)
        dyn_kwargs = {}
        for k, v in kwargs.items():
            if k in self.static_argnames:
                static.append((k, _hashable_static(v, k)))
            else:
                dyn_kwargs[k] = v
        return tuple(static), tuple(dyn_args), dyn_kwargs

    @staticmethod
    def rebuild(static, dyn_args, dyn_kwargs):
        pos = {k: v.value for k, v in static if isinstance(k, int)}
        kw = {k: v.value for k, v in static if not isinstance(k, int)}
        it = iter(dyn_args)
        args = [pos[i] if i in pos else next(it) for i in range(len(dyn_args) + len(pos))]
        return args, {**kw, **dyn_kwargs}

    def donated_leaves(self, static, in_tree):
        """Indices, among the dynamic leaves, of the donated positional arguments'."""
        if not self.donate_argnums:
            return ()
        args_tree, _ = tree_util.treedef_children(in_tree)
        arg_trees = tree_util.treedef_children(args_tree)
        static_pos = {k for k, _ in static if isinstance(k, int)}
        positions = [i for i in range(len(arg_trees) + len(static_pos)) if i not in static_pos]
        out, offset = [], 0
        for pos, t in zip(positions, arg_trees):
            n = t.num_leaves
            if pos in self.donate_argnums:
                out.extend(range(offset, offset + n))
            offset += n
        return tuple(out)

    def resolve_device(self, flat):
        if self.device is not None:
            return self.device
        if self.backend is not None:
            return runtime.local_devices(self.backend)[0]
        return dispatch._pick_device(flat)


def freeze_options(options):
    if not options:
        return ()
    try:
        frozen = tuple(sorted(options.items()))
        hash(frozen)
        return frozen
    except TypeError:
        return tuple(sorted((k, repr(v)) for k, v in options.items()))


class Static:
    __slots__ = ("value", "key")

    def __init__(self, value, key):
        self.value, self.key = value, key

    def __eq__(self, other):
        return type(other) is Static and self.key == other.key

    def __hash__(self):
        return hash(self.key)


def _hashable_static(v, where):
    try:
        hash(v)
    except TypeError as e:  # JAX's wording, then which argument and what to do
        raise ValueError(
            "Non-hashable static arguments are not supported. An error occurred while trying "
            f"to hash an object of type {type(v)}, {v}. The error was:\n"
            f"{type(e).__name__}: {e}\n"
            f"(static argument {where!r}: pass a hashable value, e.g. a tuple, not a list)"
        ) from None
    return Static(v, _static_key(v))


def _static_key(v):
    """Static values are keyed by type and, for floats, by bits: ``f(x, 0.0)`` and
    ``f(x, -0.0)`` are different programs (JAX keys them by ``==`` and shares them)."""
    t = type(v)
    if t is float or t is complex or isinstance(v, np.generic):
        return dispatch.scalar_key(v)
    if t is tuple:
        return (t, tuple(_static_key(x) for x in v))
    return (t, v)


def try_signature(fun):
    try:
        return inspect.signature(fun)
    except (TypeError, ValueError):
        return None


def _validate_argnums(sig, argnums, option):
    """JAX's ValueError for argument numbers the function's signature cannot have."""
    params = list(sig.parameters.values())
    if not argnums or any(p.kind == p.VAR_POSITIONAL for p in params):
        return
    n = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
    if any(not -n <= i < n for i in argnums):
        raise ValueError(
            f"Jitted function has {option}={tuple(argnums)}, but only accepts {n} "
            "positional arguments."
        )


def validate_options(fun, static_argnums, static_argnames, donate_argnums):
    """What the user asked ``jit`` for must fit ``fun``'s signature (JAX's ValueErrors);
    the engine's own JitFunctions may name statics their function lacks."""
    sig = try_signature(fun)
    if sig is None:
        return
    as_tuple = lambda v, t: (v,) if isinstance(v, t) else tuple(v)  # noqa: E731
    _validate_argnums(sig, as_tuple(static_argnums, int), "static_argnums")
    _validate_argnums(sig, as_tuple(donate_argnums, int), "donate_argnums")
    _validate_argnames(sig, as_tuple(static_argnames, str))


def _validate_argnames(sig, argnames):
    params = sig.parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    invalid = set(argnames) - names
    if invalid:
        raise ValueError(
            f"Jitted function has invalid argnames {invalid} in static_argnames. Function "
            "does not take these args."
        )


def resolve_statics(sig, argnums, argnames):
    argnums, argnames = set(argnums), set(argnames)
    if sig is None:
        return argnums, argnames
    params = list(sig.parameters.values())
    n = len(params)
    argnums = {i % n if i < 0 and n else i for i in argnums}
    for i in list(argnums):
        if i < n and params[i].kind in (params[i].POSITIONAL_OR_KEYWORD,):
            argnames.add(params[i].name)
    for name in list(argnames):
        for i, p in enumerate(params):
            if p.name == name and p.kind == p.POSITIONAL_OR_KEYWORD:
                argnums.add(i)
    return argnums, argnames
