"""Functions over whole pytrees (map, reduce, transpose, broadcast) and ``Partial``.

Split from ``engine.tree_util`` (which re-exports every name here): flattening and
``PyTreeDef`` live there, what is built on them lives here.
"""

import functools

from engine.tree_util import (
    _flatten_up_to,
    _Mismatch,
    _short,
    register_pytree_node,
    tree_flatten,
    tree_flatten_with_path,
    tree_leaves,
    tree_structure,
)

# ------------------------------------------------------------------------ mapping


def _mismatch_error(fname, treedef, i, other, err):
    try:
        other_structure = str(tree_structure(other))
    except Exception:  # e.g. unsortable dict keys
        other_structure = f"<not a valid pytree: {_short(other)}>"
    return ValueError(
        f"pytree structure error: {fname}: tree {i} does not match the structure of the "
        "first tree at "
        f"{err.where()}: the first tree has {err.expected} there, but tree {i} has "
        f"{err.got}. (Each leaf of the first tree may stand for a whole subtree of "
        f"the others.)\n  first tree: {treedef}\n  tree {i}:     {other_structure}"
    )


def _leaves_up_to(fname, treedef, rest):
    all_leaves = []
    for i, other in enumerate(rest, 2):
        if treedef._node is None:
            all_leaves.append([other])
            continue
        out = []
        try:
            _flatten_up_to(treedef._node, other, out)
        except _Mismatch as e:
            raise _mismatch_error(fname, treedef, i, other, e) from None
        all_leaves.append(out)
    return all_leaves


def tree_map(f, tree, *rest, is_leaf=None):
    """Apply ``f`` to the leaves of ``tree`` (and the matching subtrees of ``rest``)."""
    leaves, treedef = tree_flatten(tree, is_leaf)
    if not rest:
        return treedef.unflatten([f(x) for x in leaves])
    others = _leaves_up_to("tree_map", treedef, rest)
    return treedef.unflatten([f(*xs) for xs in zip(leaves, *others)])


def tree_map_with_path(f, tree, *rest, is_leaf=None, is_leaf_takes_path=False):
    """Like tree_map, calling ``f(key_path, leaf, *others)``."""
    pairs, treedef = tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)
    others = _leaves_up_to("tree_map_with_path", treedef, rest)
    return treedef.unflatten([f(p, x, *xs) for (p, x), *xs in zip(pairs, *others)])


class _Unspecified:
    def __repr__(self):
        return "<unspecified>"


_UNSPECIFIED = _Unspecified()


def tree_reduce(function, tree, initializer=_UNSPECIFIED, is_leaf=None):
    if initializer is _UNSPECIFIED:
        return functools.reduce(function, tree_leaves(tree, is_leaf))
    return functools.reduce(function, tree_leaves(tree, is_leaf), initializer)


def _reduce_halves(seq, op, identity):
    if not seq:
        if identity is _UNSPECIFIED:
            raise TypeError("tree_reduce_associative: empty tree; pass identity=.")
        return identity
    if len(seq) == 1:
        return seq[0]
    mid = len(seq) // 2
    return op(_reduce_halves(seq[:mid], op, identity), _reduce_halves(seq[mid:], op, identity))


def tree_reduce_associative(operation, tree, *, identity=_UNSPECIFIED, is_leaf=None):
    """Reduce the leaves as a balanced binary tree of ``operation`` calls."""
    return _reduce_halves(tree_leaves(tree, is_leaf), operation, identity)


def tree_all(tree, *, is_leaf=None):
    return all(tree_leaves(tree, is_leaf))


def tree_transpose(outer_treedef, inner_treedef, pytree_to_transpose):
    """Turn an outer-of-inner tree into an inner-of-outer tree."""
    flat, treedef = tree_flatten(pytree_to_transpose)
    if inner_treedef is None:
        inner_treedef = tree_structure(outer_treedef.flatten_up_to(pytree_to_transpose)[0])
    n_inner, n_outer = inner_treedef.num_leaves, outer_treedef.num_leaves
    if treedef.num_leaves != n_inner * n_outer:
        raise TypeError(
            f"tree_transpose: the tree has structure\n{treedef}\nbut outer "
            f"and inner treedefs compose to\n"
            f"{outer_treedef.compose(inner_treedef)}"
        )
    rows = [flat[i * n_inner : (i + 1) * n_inner] for i in range(n_outer)]
    return inner_treedef.unflatten([outer_treedef.unflatten(col) for col in zip(*rows)])


def tree_broadcast(prefix_tree, full_tree, is_leaf=None):
    """Repeat each leaf of ``prefix_tree`` over the matching subtree of ``full_tree``."""
    leaves, treedef = tree_flatten(prefix_tree, is_leaf)
    (subtrees,) = _leaves_up_to("tree_broadcast", treedef, [full_tree])
    out = []
    for leaf, sub in zip(leaves, subtrees):
        out.extend([leaf] * tree_structure(sub).num_leaves)
    return tree_structure(full_tree).unflatten(out)


# ------------------------------------------------------------------------ Partial


class _HashableCallableShim:
    """Wraps a functools.partial so Partial does not merge its arguments in."""

    def __init__(self, fun):
        self.fun = fun

    def __call__(self, *args, **kwargs):
        return self.fun(*args, **kwargs)

    def __hash__(self):
        return hash(self.fun)

    def __eq__(self, other):
        if isinstance(other, _HashableCallableShim):
            return self.fun == other.fun
        return self.fun == other

    def __repr__(self):
        return f"_HashableCallableShim({self.fun!r})"


class Partial(functools.partial):
    """functools.partial that is a pytree: bound arguments are its children and the
    function is static (in the treedef)."""

    def __new__(cls, func, *args, **kwargs):
        if not isinstance(func, functools.partial):
            return super().__new__(cls, func, *args, **kwargs)
        # functools.partial would flatten a partial's own arguments into ours;
        # those belong to the function, not the pytree, so box it first.
        shim = _HashableCallableShim(func)
        out = super().__new__(cls, shim, *args, **kwargs)
        shim.func, shim.args, shim.keywords = func.func, func.args, func.keywords
        return out


register_pytree_node(
    Partial,
    lambda p: ((p.args, p.keywords), p.func),
    lambda func, children: Partial(func, *children[0], **children[1]),
)
