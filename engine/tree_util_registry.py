"""Which types are pytree nodes: the registry (built-in containers, registered classes,
dataclasses, static types) that ``engine.tree_util`` flattens by.

Split from ``engine.tree_util``, which re-exports every public name here.
"""

import collections
import dataclasses
import operator

from engine.tree_util_keys import DictKey, GetAttrKey

_NoneType = type(None)

# Kinds of types; all nonzero so `_kinds.get(t) or _classify(t)` works.
_LEAF, _TUPLE, _LIST, _DICT, _NONE, _NAMEDTUPLE, _CUSTOM = range(1, 8)
_kinds = {tuple: _TUPLE, list: _LIST, dict: _DICT, _NoneType: _NONE}
_kind_get = _kinds.get
_MAX_CACHED_TYPES = 50_000  # bound on cached leaf types (classes made in a loop)

_NONE_NODE = (_NoneType, None, ())
_EMPTY_DICT_NODE = (dict, (), ())


class _CustomNodeType:
    __slots__ = ("flatten", "unflatten", "flatten_with_keys")

    def __init__(self, flatten, unflatten, flatten_with_keys):
        self.flatten = flatten
        self.unflatten = unflatten
        self.flatten_with_keys = flatten_with_keys


_custom = {}  # type -> _CustomNodeType


def _classify(t):
    """Kind of a type not seen before: a namedtuple or a leaf."""
    kind = _NAMEDTUPLE if issubclass(t, tuple) and hasattr(t, "_fields") else _LEAF
    if len(_kinds) < _MAX_CACHED_TYPES:
        _kinds[t] = kind
    return kind


def _sorted_keys(d):
    try:
        return tuple(sorted(d))
    except TypeError as e:
        raise ValueError(  # JAX's sentence, then which keys
            f"Comparator raised exception while sorting pytree dictionary keys. "
            f"Keys {_short(list(d))} must be sortable, as JAX sorts them: {e}"
        ) from e


def _short(x, limit=120):
    s = repr(x)
    return s if len(s) <= limit else s[: limit - 3] + "..."


# ------------------------------------------------------------------ registration


def register_pytree_node(nodetype, flatten_func, unflatten_func, flatten_with_keys_func=None):
    """Make ``nodetype`` a container: ``flatten_func(x) -> (children, aux)`` and
    ``unflatten_func(aux, children) -> x``. ``aux`` should be hashable."""
    if _kinds.get(nodetype) in (_TUPLE, _LIST, _DICT, _NONE, _CUSTOM):
        raise ValueError(f"Duplicate pytree node type registration for {nodetype}.")
    _custom[nodetype] = _CustomNodeType(flatten_func, unflatten_func, flatten_with_keys_func)
    _kinds[nodetype] = _CUSTOM


def register_pytree_node_class(cls):
    """Class decorator: use ``cls.tree_flatten`` and classmethod ``cls.tree_unflatten``."""
    register_pytree_node(cls, operator.methodcaller("tree_flatten"), cls.tree_unflatten)
    return cls


def register_pytree_with_keys(nodetype, flatten_with_keys, unflatten_func, flatten_func=None):
    """Like ``register_pytree_node`` with ``flatten_with_keys(x) -> ([(key, child)], aux)``."""
    if flatten_func is None:

        def flatten_func(x):
            pairs, aux = flatten_with_keys(x)
            return [child for _, child in pairs], aux

    register_pytree_node(nodetype, flatten_func, unflatten_func, flatten_with_keys)


def register_pytree_with_keys_class(cls):
    """Class decorator: ``tree_flatten_with_keys``, ``tree_unflatten`` and, if present,
    ``tree_flatten``."""
    flatten = operator.methodcaller("tree_flatten") if hasattr(cls, "tree_flatten") else None
    register_pytree_with_keys(
        cls, operator.methodcaller("tree_flatten_with_keys"), cls.tree_unflatten, flatten
    )
    return cls


def register_dataclass(nodetype, data_fields=None, meta_fields=None, drop_fields=()):
    """Make a (data)class a container: ``data_fields`` are children, ``meta_fields`` go
    in the treedef. On a dataclass both may be omitted; fields whose metadata has
    ``static=True`` are then meta fields. Usable as a decorator; returns ``nodetype``."""
    if data_fields is None or meta_fields is None:
        if (data_fields is None) != (meta_fields is None):
            raise TypeError(
                "register_dataclass: give both data_fields and meta_fields, or neither; "
                f"got data_fields={data_fields!r} meta_fields={meta_fields!r}."
            )
        if not dataclasses.is_dataclass(nodetype):
            raise TypeError(
                "register_dataclass: data_fields and meta_fields are required for a "
                f"class that is not a dataclass; got {nodetype}."
            )
        fields = dataclasses.fields(nodetype)
        data_fields = [f.name for f in fields if not f.metadata.get("static", False)]
        meta_fields = [f.name for f in fields if f.metadata.get("static", False)]
    data_fields, meta_fields = tuple(data_fields), tuple(meta_fields)
    given = {*data_fields, *meta_fields}
    if dataclasses.is_dataclass(nodetype):
        init_fields = {f.name for f in dataclasses.fields(nodetype) if f.init}
        init_fields -= set(drop_fields)
        if given != init_fields:
            msg = (
                "register_dataclass: data_fields and meta_fields together must be "
                "exactly the dataclass fields with init=True."
            )
            if init_fields - given:
                msg += (
                    f" Missing: {init_fields - given}; list them in drop_fields "
                    "to leave them out on purpose."
                )
            if given - init_fields:
                msg += f" Not init fields: {given - init_fields}."
            raise ValueError(msg)
    if set(data_fields) & set(meta_fields):
        raise ValueError(
            "register_dataclass: data_fields and meta_fields overlap: "
            f"{set(data_fields) & set(meta_fields)}."
        )
    getters = [operator.attrgetter(name) for name in data_fields]
    keys = [GetAttrKey(name) for name in data_fields]

    def flatten(x):
        return ([get(x) for get in getters], tuple([getattr(x, name) for name in meta_fields]))

    def flatten_with_keys(x):
        children, meta = flatten(x)
        return list(zip(keys, children)), meta

    def unflatten(meta, children):
        return nodetype(**dict(zip(meta_fields, meta)), **dict(zip(data_fields, children)))

    register_pytree_node(nodetype, flatten, unflatten, flatten_with_keys)
    return nodetype


def register_static(cls):
    """Make instances of ``cls`` pytrees with no leaves (the value lives in the treedef)."""
    register_pytree_with_keys(cls, lambda x: ((), x), lambda x, _: x)
    return cls


register_pytree_with_keys(
    collections.OrderedDict,
    lambda d: ([(DictKey(k), v) for k, v in d.items()], tuple(d)),
    lambda keys, values: collections.OrderedDict(zip(keys, values)),
    lambda d: (list(d.values()), tuple(d)),
)


def _defaultdict_with_keys(d):
    keys = _sorted_keys(d)
    return [(DictKey(k), d[k]) for k in keys], (d.default_factory, keys)


register_pytree_with_keys(
    collections.defaultdict,
    _defaultdict_with_keys,
    lambda aux, values: collections.defaultdict(aux[0], zip(aux[1], values)),
)
