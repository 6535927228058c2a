"""Pytrees: nested containers flattened to a list of leaves plus a ``PyTreeDef``.

Semantics follow ``jax.tree_util``: tuples, lists, dicts (keys sorted), None (a node
with no children), namedtuples, OrderedDict (insertion order), defaultdict, and
types registered here are containers; every other object is a leaf. Dataclasses
are leaves unless registered with ``register_dataclass``.

A treedef node is either ``None`` (a leaf) or a tuple ``(type, aux, children)``
with ``children`` a tuple of nodes. Plain tuples hash and compare in C, which keeps
``PyTreeDef`` cheap as a jit cache key. Types are dispatched with one dict lookup
on ``type(x)``; the answer for unregistered types is cached in the same dict.
"""

import functools
from itertools import islice, repeat

from engine.tree_util_keys import (
    DictKey,
    FlattenedIndexKey,
    GetAttrKey,
    KeyEntry,
    KeyPath,
    SequenceKey,
    keystr,
)

__all__ = [
    "DictKey",
    "FlattenedIndexKey",
    "GetAttrKey",
    "KeyEntry",
    "KeyPath",
    "Partial",
    "PyTreeDef",
    "SequenceKey",
    "all_leaves",
    "flatten_one_level",
    "flatten_one_level_with_keys",
    "is_tree_node",
    "keystr",
    "register_dataclass",
    "register_pytree_node",
    "register_pytree_node_class",
    "register_pytree_with_keys",
    "register_pytree_with_keys_class",
    "register_static",
    "tree_all",
    "tree_broadcast",
    "tree_flatten",
    "tree_flatten_with_path",
    "tree_leaves",
    "tree_leaves_with_path",
    "tree_map",
    "tree_map_with_path",
    "tree_reduce",
    "tree_reduce_associative",
    "tree_structure",
    "tree_transpose",
    "tree_unflatten",
    "treedef_children",
    "treedef_is_leaf",
    "treedef_tuple",
]

from engine.tree_util_registry import (
    _CUSTOM,
    _DICT,
    _EMPTY_DICT_NODE,
    _LEAF,
    _LIST,
    _NAMEDTUPLE,
    _NONE,
    _NONE_NODE,
    _TUPLE,
    _classify,
    _custom,
    _kind_get,
    _NoneType,
    _short,
    _sorted_keys,
    register_dataclass,
    register_pytree_node,
    register_pytree_node_class,
    register_pytree_with_keys,
    register_pytree_with_keys_class,
    register_static,
)

# -------------------------------------------------------------------- flattening


def _flatten(x, leaves):
    """Fast path (no is_leaf, no key paths): append leaves, return the node."""
    t = type(x)
    kind = _kind_get(t) or _classify(t)
    if kind == _LEAF:
        leaves.append(x)
        return None
    if kind == _TUPLE or kind == _LIST or kind == _NAMEDTUPLE:
        aux, children = None, x
    elif kind == _DICT:
        if not x:
            return _EMPTY_DICT_NODE
        try:
            aux = tuple(sorted(x))
        except TypeError:
            aux = _sorted_keys(x)  # raises a clear error
        children = list(map(x.__getitem__, aux))
    elif kind == _NONE:
        return _NONE_NODE
    else:
        children, aux = _custom[t].flatten(x)
    kids = []
    for c in children:
        if _kind_get(type(c)) == _LEAF:  # inlined leaf case: saves a call per leaf
            leaves.append(c)
            kids.append(None)
        else:
            kids.append(_flatten(c, leaves))
    return (t, aux, tuple(kids))


def _leaves(x, leaves):
    """Like _flatten without building nodes, for tree_leaves."""
    t = type(x)
    kind = _kind_get(t) or _classify(t)
    if kind == _LEAF:
        leaves.append(x)
    elif kind == _TUPLE or kind == _LIST or kind == _NAMEDTUPLE:
        for c in x:
            if _kind_get(type(c)) == _LEAF:
                leaves.append(c)
            else:
                _leaves(c, leaves)
    elif kind == _DICT:
        if x:
            for k in _sorted_keys(x):
                _leaves(x[k], leaves)
    elif kind == _CUSTOM:
        for c in _custom[t].flatten(x)[0]:
            _leaves(c, leaves)


_NO_KEYS = repeat(None)


def _children(x, t, kind, with_keys):
    """(aux, children, keys) of a container; keys is _NO_KEYS unless with_keys."""
    if kind == _TUPLE or kind == _LIST:
        keys = [SequenceKey(i) for i in range(len(x))] if with_keys else _NO_KEYS
        return None, x, keys
    if kind == _DICT:
        aux = _sorted_keys(x)
        keys = [DictKey(k) for k in aux] if with_keys else _NO_KEYS
        return aux, [x[k] for k in aux], keys
    if kind == _NONE:
        return None, (), _NO_KEYS
    if kind == _NAMEDTUPLE:
        keys = [GetAttrKey(f) for f in t._fields] if with_keys else _NO_KEYS
        return None, x, keys
    entry = _custom[t]
    if with_keys and entry.flatten_with_keys is not None:
        pairs, aux = entry.flatten_with_keys(x)
        pairs = list(pairs)
        return aux, [c for _, c in pairs], [k for k, _ in pairs]
    children, aux = entry.flatten(x)
    children = list(children)
    keys = [FlattenedIndexKey(i) for i in range(len(children))] if with_keys else _NO_KEYS
    return aux, children, keys


def _check_is_leaf(result):
    if result is True:
        return True
    if result is False or result is None:
        return False
    raise ValueError(f"is_leaf returned {result!r}; it must return a bool.")


def _flatten_general(x, out, is_leaf, path):
    """Flatten with an is_leaf predicate and/or key paths.

    With ``path`` None, ``is_leaf(x)`` is used and leaves are appended as is;
    with ``path`` a tuple of keys, ``is_leaf(path, x)`` and ``(path, leaf)`` pairs.
    """
    if is_leaf is not None and _check_is_leaf(is_leaf(x) if path is None else is_leaf(path, x)):
        out.append(x if path is None else (path, x))
        return None
    t = type(x)
    kind = _kind_get(t) or _classify(t)
    if kind == _LEAF:
        out.append(x if path is None else (path, x))
        return None
    if kind == _NONE:
        return _NONE_NODE
    aux, children, keys = _children(x, t, kind, path is not None)
    if path is None:
        kids = [_flatten_general(c, out, is_leaf, None) for c in children]
    else:
        kids = [_flatten_general(c, out, is_leaf, path + (k,)) for c, k in zip(children, keys)]
    return (t, aux, tuple(kids))


def _new_treedef(node, num_leaves=None):
    td = object.__new__(PyTreeDef)
    td._node = node
    td._num_leaves = _count_leaves(node) if num_leaves is None else num_leaves
    td._hash = None
    return td


def _recursion_error(tree):
    try:  # lazily: this module also loads on its own, outside the engine package
        from .errors import pytree_recursion_error
    except ImportError:
        return RecursionError("Cannot flatten this pytree: too deep, or it contains itself.")
    return pytree_recursion_error(tree)


def tree_flatten(tree, is_leaf=None):
    """Return ``(leaves, treedef)``; leaves in left-to-right depth-first order."""
    leaves = []
    try:
        if is_leaf is None:
            node = _flatten(tree, leaves)
        else:
            node = _flatten_general(tree, leaves, is_leaf, None)
    except RecursionError:
        raise _recursion_error(tree) from None
    td = object.__new__(PyTreeDef)  # _new_treedef inlined: this is the hot path
    td._node = node
    td._num_leaves = len(leaves)
    td._hash = None
    return leaves, td


def tree_leaves(tree, is_leaf=None):
    leaves = []
    try:
        if is_leaf is None:
            _leaves(tree, leaves)
        else:
            _flatten_general(tree, leaves, is_leaf, None)
    except RecursionError:
        raise _recursion_error(tree) from None
    return leaves


def tree_structure(tree, is_leaf=None):
    return tree_flatten(tree, is_leaf)[1]


def tree_unflatten(treedef, leaves):
    return treedef.unflatten(leaves)


def _path_is_leaf(is_leaf, is_leaf_takes_path):
    if is_leaf is None or is_leaf_takes_path:
        return is_leaf
    return lambda _, x: is_leaf(x)


def tree_flatten_with_path(tree, is_leaf=None, is_leaf_takes_path=False):
    """Return ``([(key_path, leaf), ...], treedef)``."""
    out = []
    try:
        node = _flatten_general(tree, out, _path_is_leaf(is_leaf, is_leaf_takes_path), ())
    except RecursionError:
        raise _recursion_error(tree) from None
    return out, _new_treedef(node, len(out))


def tree_leaves_with_path(tree, is_leaf=None, is_leaf_takes_path=False):
    return tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)[0]


# ------------------------------------------------------------------ node helpers


def _count_leaves(node):
    if node is None:
        return 1
    return sum([1 if k is None else _count_leaves(k) for k in node[2]])


def _count_nodes(node):
    if node is None:
        return 1
    return 1 + sum([1 if k is None else _count_nodes(k) for k in node[2]])


def _unflatten(node, it):
    t, aux, kids = node
    if not kids:
        if t is tuple or t is _NoneType:
            return () if t is tuple else None
        if t is list or t is dict:
            return t()
        children = []
    elif any(kids):  # some children are containers (nodes are non-empty tuples)
        children = [next(it) if k is None else _unflatten(k, it) for k in kids]
    else:
        children = list(islice(it, len(kids)))
    if t is tuple:
        return tuple(children)
    if t is list:
        return children
    if t is dict:
        return dict(zip(aux, children))
    entry = _custom.get(t)
    if entry is None:  # namedtuple
        return t(*children)
    return entry.unflatten(aux, tuple(children))


def _node_str(node):
    if node is None:
        return "*"
    t, aux, kids = node
    parts = [_node_str(k) for k in kids]
    if t is tuple:
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
    if t is list:
        return "[" + ", ".join(parts) + "]"
    if t is dict:
        return "{" + ", ".join(f"{k!r}: {p}" for k, p in zip(aux, parts)) + "}"
    if t is _NoneType:
        return "None"
    label = f"namedtuple[{t.__name__}]" if t not in _custom else f"{t.__name__}[{aux}]"
    return f"CustomNode({label}, [{', '.join(parts)}])"


def _type_name(t):
    if t is _NoneType:
        return "None"
    if t not in _custom and issubclass(t, tuple) and t is not tuple:
        return f"namedtuple {t.__name__}"
    return t.__name__


def _a(name):
    return ("an " if name[0] in "aeiouAEIOU" else "a ") + name


def _describe(x):
    """Short description of a subtree for structure-mismatch messages."""
    t = type(x)
    if x is None:
        return "None"
    kind = _kind_get(t) or _classify(t)
    if kind == _LEAF:
        return f"a leaf of type {t.__name__} ({_short(x, 60)})"
    return f"{_a(_type_name(t))} ({_short(x, 60)})"


class _Mismatch(ValueError):
    """A tree does not match a treedef; ``path`` is filled in while unwinding."""

    def __init__(self, expected, got):
        super().__init__(expected, got)
        self.expected, self.got, self.path = expected, got, []

    def where(self):
        return f"key path {keystr(self.path[::-1])}" if self.path else "the root"

    def __str__(self):
        return f"at {self.where()}: expected {self.expected}, got {self.got}"


def _child_key(x, t, i):
    """Key of child i of a container, for error messages only."""
    if t is tuple or t is list:
        return SequenceKey(i)
    if t is dict:
        return DictKey(_sorted_keys(x)[i])
    if t not in _custom:
        return GetAttrKey(t._fields[i])
    entry = _custom[t]
    if entry.flatten_with_keys is not None:
        return list(entry.flatten_with_keys(x)[0])[i][0]
    return FlattenedIndexKey(i)


def _flatten_up_to(node, x, out):
    t, aux, kids = node
    tx = type(x)
    if t is _NoneType:
        if x is not None:
            raise _Mismatch(
                "None",
                _describe(x) + "; None is an empty pytree, not a "
                "placeholder for a subtree (to treat None as a leaf, pass "
                "is_leaf=lambda x: x is None)",
            )
        return
    if tx is not t:
        raise _Mismatch(_a(_type_name(t)), _describe(x))
    if t is tuple or t is list:
        children = x
    elif t is dict:
        keys = _sorted_keys(x)
        if keys != aux:
            raise _Mismatch(f"a dict with keys {list(aux)}", f"a dict with keys {list(keys)}")
        children = [x[k] for k in keys]
    elif t not in _custom:
        children = x
    else:
        children, aux_x = _custom[t].flatten(x)
        children = list(children)
        if aux_x != aux:
            raise _Mismatch(
                f"{_a(t.__name__)} with node data {_short(aux)}", f"node data {_short(aux_x)}"
            )
    if len(children) != len(kids):
        raise _Mismatch(
            f"{_a(_type_name(t))} with {len(kids)} children",
            f"{len(children)} children ({_short(x, 60)})",
        )
    for i, (k, c) in enumerate(zip(kids, children)):
        if k is None:
            out.append(c)
            continue
        try:
            _flatten_up_to(k, c, out)
        except _Mismatch as e:
            e.path.append(_child_key(x, t, i))
            raise


def _compose(node, inner):
    if node is None:
        return inner
    t, aux, kids = node
    return (t, aux, tuple([_compose(k, inner) for k in kids]))


def _node_data(node):
    if node is None:
        return None
    t, aux, _ = node
    return (t, list(aux)) if t is dict else (t, aux)


def _walk(node, f_node, f_leaf, it):
    if node is None:
        leaf = next(it)
        return f_leaf(leaf) if f_leaf is not None else leaf
    t, aux, kids = node
    results = tuple([_walk(k, f_node, f_leaf, it) for k in kids])
    if t is dict:
        aux = list(aux)
    elif t not in _custom and t is not tuple and t is not list and t is not _NoneType:
        aux = t  # a namedtuple's node data here is its type, as in JAX
    return f_node(results, aux)


def _from_iterable(node, x):
    if node is None:
        return x
    children = list(x)
    if len(children) != len(node[2]):
        raise ValueError(
            f"from_iterable_tree: expected {len(node[2])} children, "
            f"got {len(children)} in {_short(x)}"
        )
    it = iter([_from_iterable(k, c) for k, c in zip(node[2], children)])
    return _unflatten((node[0], node[1], (None,) * len(children)), it)


def _robust_hash(node):
    """Hash that skips node data which is not hashable."""
    if node is None:
        return 0
    t, aux, kids = node
    try:
        h = hash(aux)
    except TypeError:
        h = 1
    return hash((t, h, tuple([_robust_hash(k) for k in kids])))


# ---------------------------------------------------------------------- PyTreeDef


class PyTreeDef:
    """The structure of a pytree: everything but its leaves. Hashable; equal
    structures compare equal."""

    __slots__ = ("_node", "_num_leaves", "_hash", "_num_nodes")

    def __init__(self):
        raise TypeError("PyTreeDef is made by tree_flatten / tree_structure.")

    @property
    def num_leaves(self):
        return self._num_leaves

    @property
    def num_nodes(self):
        try:
            return self._num_nodes
        except AttributeError:
            self._num_nodes = _count_nodes(self._node)
            return self._num_nodes

    def __hash__(self):
        h = self._hash
        if h is None:
            try:
                h = hash(self._node)
            except TypeError:  # unhashable node data of a custom node
                h = _robust_hash(self._node)
            self._hash = h
        return h

    def __eq__(self, other):
        if self is other:
            return True
        if type(other) is not PyTreeDef:
            return NotImplemented
        try:
            return self._num_leaves == other._num_leaves and self._node == other._node
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"Could not compare the node data of {self} and {other}: {e}. Node data "
                "(aux) of custom pytree nodes must be hashable with plain equality; "
                "arrays cannot be node data."
            ) from None

    def __repr__(self):
        return f"PyTreeDef({_node_str(self._node)})"

    def __reduce__(self):
        return _new_treedef, (self._node, self._num_leaves)

    def unflatten(self, leaves):
        """Build a tree of this structure from an iterable of leaves."""
        if type(leaves) is not list:
            leaves = list(leaves)
        n = self._num_leaves
        if len(leaves) != n:
            which = "few" if len(leaves) < n else "many"
            raise ValueError(f"Too {which} leaves for {self}: expected {n}, got {len(leaves)}.")
        node = self._node
        if node is None:
            return leaves[0]
        return _unflatten(node, iter(leaves))

    def flatten_up_to(self, tree):
        """Flatten ``tree`` down to this structure: each leaf of the treedef takes the
        whole subtree of ``tree`` at its place."""
        node = self._node
        if node is None:
            return [tree]
        out = []
        try:
            _flatten_up_to(node, tree, out)
        except _Mismatch as e:
            raise ValueError(f"Tree does not match {self}: {e}.") from None
        return out

    def children(self):
        if self._node is None:
            return []
        return [_new_treedef(k) for k in self._node[2]]

    def node_data(self):
        """``(type, aux)`` of the root node (dict aux: a list of keys); None for a leaf."""
        return _node_data(self._node)

    def compose(self, inner):
        """The treedef with every leaf of this one replaced by ``inner``."""
        if type(inner) is not PyTreeDef:
            raise TypeError(f"compose expects a PyTreeDef, got {type(inner).__name__}")
        return _new_treedef(_compose(self._node, inner._node), self._num_leaves * inner._num_leaves)

    def walk(self, f_node, f_leaf, leaves):
        """Fold over the structure: ``f_leaf(leaf)`` at leaves (identity if None) and
        ``f_node(child_results, aux)`` at nodes."""
        return _walk(self._node, f_node, f_leaf, iter(leaves))

    def from_iterable_tree(self, subtrees):
        """Build a tree of this structure from nested iterables of children."""
        return _from_iterable(self._node, subtrees)

    @staticmethod
    def from_node_data_and_children(registry, node_data, children):
        """Inverse of ``node_data()`` and ``children()``; ``registry`` is ignored."""
        if node_data is None:
            return _new_treedef(None, 1)
        t, aux = node_data
        if t is dict:
            aux = tuple(aux)
        elif t is not tuple and t is not list and t not in _custom:
            aux = None  # None or namedtuple
        return _new_treedef((t, aux, tuple([c._node for c in children])))


def treedef_tuple(treedefs):
    """The treedef of a tuple whose children have the given treedefs."""
    treedefs = list(treedefs)
    for td in treedefs:
        if type(td) is not PyTreeDef:
            raise TypeError(f"treedef_tuple expects PyTreeDefs, got {type(td).__name__}")
    return _new_treedef(
        (tuple, None, tuple([td._node for td in treedefs])), sum(td._num_leaves for td in treedefs)
    )


def treedef_children(treedef):
    return treedef.children()


def treedef_is_leaf(treedef):
    """True for a treedef with a single node: a leaf, or an empty container like ()."""
    return treedef.num_nodes == 1


def treedef_is_strict_leaf(treedef):
    return treedef._node is None


def is_tree_node(typ):
    """True if instances of ``typ`` are pytree containers (not leaves)."""
    return (_kind_get(typ) or _classify(typ)) != _LEAF


def all_leaves(iterable, is_leaf=None):
    """True if no element of ``iterable`` is a pytree container."""
    if is_leaf is None:
        return all((_kind_get(type(x)) or _classify(type(x))) == _LEAF for x in iterable)
    items = list(iterable)
    leaves = tree_leaves(items, is_leaf)
    return len(leaves) == len(items) and all(a is b for a, b in zip(items, leaves))


def flatten_one_level(tree):
    """``(children, aux)`` of a container node; ValueError for a leaf."""
    t = type(tree)
    kind = _kind_get(t) or _classify(t)
    if kind == _LEAF:
        raise ValueError(f"can't tree-flatten type: {t}")
    if kind == _TUPLE or kind == _LIST:
        return tree, None
    if kind == _DICT:
        keys = _sorted_keys(tree)
        return tuple([tree[k] for k in keys]), keys
    if kind == _NONE:
        return (), None
    if kind == _NAMEDTUPLE:
        return list(tree), t
    return _custom[t].flatten(tree)


def flatten_one_level_with_keys(tree):
    """``([(key, child)], aux)`` of a container node; ValueError for a leaf."""
    t = type(tree)
    kind = _kind_get(t) or _classify(t)
    if kind == _LEAF:
        raise ValueError(f"can't tree-flatten type: {t}")
    aux, children, keys = _children(tree, t, kind, True)
    pairs = list(zip(keys, children))
    if kind == _NAMEDTUPLE:
        return pairs, t
    if kind == _CUSTOM:
        return pairs, aux
    return tuple(pairs), aux


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
