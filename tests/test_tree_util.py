"""engine.tree_util against real jax.tree_util on the same inputs.

Every container class below is registered with both registries, so each test
flattens the very same objects with both libraries and compares what comes out.
"""

import collections
import dataclasses
import functools
import inspect
import operator
import pathlib
import pickle
import subprocess
import sys
import typing

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

jax = pytest.importorskip("jax")
import jax.tree_util as jtu  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine import tree as etree  # noqa: E402
from engine import tree_util as etu  # noqa: E402

BOTH = (jtu, etu)


# ------------------------------------------------------------ container classes

NT = collections.namedtuple("NT", ["a", "b"])
NTOther = collections.namedtuple("NT", ["a", "b"])  # same name, different class


class TNT(typing.NamedTuple):
    x: typing.Any
    y: typing.Any


class NTSub(NT):
    pass


class Point:
    """register_pytree_node; node data is a string."""

    def __init__(self, x, y, tag="p"):
        self.x, self.y, self.tag = x, y, tag

    def __eq__(self, other):
        return type(other) is Point and (self.x, self.y, self.tag) == (other.x, other.y, other.tag)

    def __repr__(self):
        return f"Point({self.x!r}, {self.y!r}, {self.tag!r})"


for _tu in BOTH:
    _tu.register_pytree_node(
        Point, lambda p: ((p.x, p.y), p.tag), lambda tag, xy: Point(xy[0], xy[1], tag)
    )


class Box:
    """register_pytree_node_class; node data is an unhashable dict."""

    def __init__(self, items, meta=None):
        self.items, self.meta = items, meta if meta is not None else {"k": 1}

    def tree_flatten(self):
        return (self.items,), self.meta

    @classmethod
    def tree_unflatten(cls, meta, children):
        return cls(children[0], meta)

    def __eq__(self, other):
        return type(other) is Box and (self.items, self.meta) == (other.items, other.meta)

    def __repr__(self):
        return f"Box({self.items!r}, {self.meta!r})"


for _tu in BOTH:
    _tu.register_pytree_node_class(Box)


class Keyed:
    """register_pytree_with_keys with GetAttrKey paths."""

    def __init__(self, w, b):
        self.w, self.b = w, b

    def __eq__(self, other):
        return type(other) is Keyed and (self.w, self.b) == (other.w, other.b)

    def __repr__(self):
        return f"Keyed({self.w!r}, {self.b!r})"


def _keyed_flatten_with_keys(k, tu):
    return ((tu.GetAttrKey("w"), k.w), (tu.GetAttrKey("b"), k.b)), "keyed"


for _tu in BOTH:
    _tu.register_pytree_with_keys(
        Keyed, functools.partial(_keyed_flatten_with_keys, tu=_tu), lambda aux, ch: Keyed(*ch)
    )


class KeyedClass:
    """register_pytree_with_keys_class."""

    def __init__(self, v):
        self.v = v

    def tree_flatten_with_keys(self):
        return [(etu.DictKey("v") if self._engine else jtu.DictKey("v"), self.v)], None

    def tree_flatten(self):
        return [self.v], None

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(children[0])

    def __eq__(self, other):
        return type(other) is type(self) and self.v == other.v

    def __repr__(self):
        return f"KeyedClass({self.v!r})"


@dataclasses.dataclass
class DC:
    a: typing.Any
    b: typing.Any
    c: typing.Any = 0


for _tu in BOTH:
    _tu.register_dataclass(DC, data_fields=["a", "c"], meta_fields=["b"])


@dataclasses.dataclass
class DCAuto:
    x: typing.Any
    name: str = dataclasses.field(default="n", metadata=dict(static=True))
    y: typing.Any = None


jtu.register_dataclass(etu.register_dataclass(DCAuto))


@dataclasses.dataclass
class PlainDC:  # not registered: a leaf in JAX
    a: int = 1


class DictSub(dict):  # subclasses of containers are leaves
    pass


class TupleSub(tuple):
    pass


class Marker:
    """register_static: no leaves, the value itself is node data."""

    def __init__(self, s):
        self.s = s

    def __eq__(self, other):
        return type(other) is Marker and self.s == other.s

    def __hash__(self):
        return hash(self.s)

    def __repr__(self):
        return f"Marker({self.s!r})"


for _tu in BOTH:
    _tu.register_static(Marker)

ARR = np.arange(3.0)
OD = collections.OrderedDict
DD = collections.defaultdict


def _trees():
    return [
        None,
        1,
        "leaf",
        ARR,
        np.float32(2),
        (),
        [],
        {},
        (1,),
        [1, 2],
        (None,),
        [None, 1],
        {"b": 1, "a": 2},
        {"a": None},
        {1: "x", 2: "y"},
        {(1, 2): 3, (0, 5): 4},
        ((1,), {}),
        ((ARR,), {"x": ARR, "y": (1.0, None)}),
        {"a": [1, (2, None)], "b": {}, "c": {"d": [[], [3]]}},
        NT(1, (2, 3)),
        NT(NT(1, 2), {"x": NT(None, 3)}),
        NTOther(1, 2),
        TNT([1], 2),
        NTSub(1, 2),
        OD([("z", 1), ("a", (2, 3))]),
        OD(),
        DD(list, {"b": 1, "a": [2]}),
        DD(int),
        Point(1, (2, 3)),
        Point([1], None, "q r"),
        [Point(1, 2), Point(3, 4, "other")],
        Box([1, 2]),
        Box({"m": 3}, {"k": 2}),
        Keyed(1, (2, 3)),
        DC(1, "meta", [2, 3]),
        DCAuto((1, 2), "s", 3),
        PlainDC(),
        Marker("m"),
        (Marker("m"), 1),
        {"s": Marker("t"), "v": [1]},
        DictSub(a=1),
        TupleSub((1, 2)),
        [DictSub(), TupleSub()],
        str,
        [int, None],
        (1, [2, {"k": (3, NT(4, OD(q=5)))}], DC({"z": 1}, 0, None)),
    ]


TREES = _trees()
IDS = [f"{i}-{type(t).__name__}" for i, t in enumerate(TREES)]


def _deep_equal(a, b, ordered=True):
    """Same types all the way down, and equal values (numpy arrays by identity).
    Dict key order must match too, unless ordered=False (then only for OrderedDict)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a is b
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_deep_equal(x, y, ordered) for x, y in zip(a, b))
    if isinstance(a, dict):
        same_keys = list(a) == list(b) if ordered or type(a) is OD else set(a) == set(b)
        return (
            same_keys
            and all(_deep_equal(a[k], b[k], ordered) for k in a)
            and getattr(a, "default_factory", None) == getattr(b, "default_factory", None)
        )
    if isinstance(a, (Point, DC)):
        return all(_deep_equal(x, y, ordered) for x, y in zip(vars(a).values(), vars(b).values()))
    return a == b


def _same_objects(xs, ys):
    return len(xs) == len(ys) and all(x is y for x, y in zip(xs, ys))


def _key_repr(path):
    return [repr(k) for k in path]


# ---------------------------------------------------------------- flattening


@pytest.mark.parametrize("tree", TREES, ids=IDS)
def test_flatten_matches_jax(tree):
    jl, jd = jtu.tree_flatten(tree)
    el, ed = etu.tree_flatten(tree)
    assert _same_objects(el, jl)
    assert repr(ed) == repr(jd) and str(ed) == str(jd)
    assert ed.num_leaves == jd.num_leaves
    assert ed.num_nodes == jd.num_nodes
    assert etu.treedef_is_leaf(ed) == jtu.treedef_is_leaf(jd)
    assert [str(c) for c in etu.treedef_children(ed)] == [str(c) for c in jtu.treedef_children(jd)]
    assert [str(c) for c in ed.children()] == [str(c) for c in jd.children()]
    assert ed.node_data() == jd.node_data()
    assert _same_objects(etu.tree_leaves(tree), jl)
    assert str(etu.tree_structure(tree)) == str(jd)
    assert _deep_equal(etu.tree_unflatten(ed, el), jtu.tree_unflatten(jd, jl))
    assert _deep_equal(ed.unflatten(iter(el)), jd.unflatten(iter(jl)))


@pytest.mark.parametrize("tree", TREES, ids=IDS)
def test_paths_match_jax(tree):
    jp, jd = jtu.tree_flatten_with_path(tree)
    ep, ed = etu.tree_flatten_with_path(tree)
    assert str(ed) == str(jd) and ed == etu.tree_structure(tree)
    assert [_key_repr(p) for p, _ in ep] == [_key_repr(p) for p, _ in jp]
    assert [etu.keystr(p) for p, _ in ep] == [jtu.keystr(p) for p, _ in jp]
    assert [etu.keystr(p, simple=True, separator="/") for p, _ in ep] == [
        jtu.keystr(p, simple=True, separator="/") for p, _ in jp
    ]
    assert _same_objects([x for _, x in ep], [x for _, x in jp])
    assert [_key_repr(p) for p, _ in etu.tree_leaves_with_path(tree)] == [
        _key_repr(p) for p, _ in jtu.tree_leaves_with_path(tree)
    ]


@pytest.mark.parametrize("tree", TREES, ids=IDS)
def test_flatten_one_level_matches_jax(tree):
    def run(tu):
        try:
            children, aux = tu.flatten_one_level(tree)
            pairs, aux2 = tu.flatten_one_level_with_keys(tree)
        except ValueError as e:
            return "ValueError", str(e)
        keys = [repr(k) for k, _ in pairs]
        if isinstance(tree, tuple) and hasattr(tree, "_fields"):
            keys = None  # jax 0.10.2 repeats the first field's key for every child
        return (type(children), list(children), aux, type(pairs), keys, [c for _, c in pairs], aux2)

    jr, er = run(jtu), run(etu)
    assert len(jr) == len(er)
    for j, e in zip(jr, er):
        assert j is e or _deep_equal(j, e) or (isinstance(j, list) and _same_objects(j, e))


def test_namedtuple_one_level_keys_are_the_fields():
    # Deliberate deviation: jax 0.10.2 gives [.a, .a] here; tree_flatten_with_path
    # in both libraries gives [.a, .b], which is what this returns.
    pairs, aux = etu.flatten_one_level_with_keys(NT(1, 2))
    assert aux is NT
    assert [jtu.keystr((jtu.GetAttrKey(k.name),)) for k, _ in pairs] == [
        jtu.keystr(p) for p, _ in jtu.tree_leaves_with_path(NT(1, 2))
    ]


def test_is_tree_node_matches_jax():
    for t in [
        int,
        float,
        np.ndarray,
        tuple,
        list,
        dict,
        type(None),
        NT,
        TNT,
        NTSub,
        OD,
        DD,
        Point,
        Box,
        Keyed,
        DC,
        DCAuto,
        PlainDC,
        Marker,
        etu.Partial,
        str,
    ]:
        jt = jtu.Partial if t is etu.Partial else t
        assert etu.is_tree_node(t) == jtu.is_tree_node(jt), t


def test_all_leaves_matches_jax():
    cases = [[1, 2], [(1,), 2], [None], [], [ARR, "a", PlainDC()], [NT(1, 2)], [Marker("x")]]
    for items in cases:
        assert etu.all_leaves(items) == jtu.all_leaves(items)
        assert etu.all_leaves(iter(items)) == jtu.all_leaves(iter(items))
    is_tuple = lambda x: isinstance(x, tuple)  # noqa: E731
    for items in [[(1,)], [(1,), [2]], [1]]:
        assert etu.all_leaves(items, is_leaf=is_tuple) == jtu.all_leaves(items, is_leaf=is_tuple)


# ---------------------------------------------------------------- treedefs


def test_treedef_equality_and_hash_match_jax():
    trees = _trees() + _trees()  # fresh objects, equal structures
    jds = [jtu.tree_structure(t) for t in trees]
    eds = [etu.tree_structure(t) for t in trees]
    for i in range(len(trees)):
        for j in range(len(trees)):
            assert (eds[i] == eds[j]) == (jds[i] == jds[j]), (trees[i], trees[j])
            assert (eds[i] != eds[j]) == (jds[i] != jds[j])
            if eds[i] == eds[j]:
                assert hash(eds[i]) == hash(eds[j])
    assert (eds[0] == 5) is False and (eds[0] != "x") is True
    half = len(trees) // 2
    cache = {(ed, "f32[3]"): i for i, ed in enumerate(eds[:half])}  # as a jit cache uses it
    for ed in eds[half:]:
        assert eds[cache[(ed, "f32[3]")]] == ed


@pytest.mark.parametrize(
    "tree",
    [t for t in TREES if type(t) is not NTOther]  # NT name clash
    + [(1, NT(2, OD(a=3)), DD(int, b=4), DC(1, 2, 3), Marker("z"))],
)
def test_treedef_pickles(tree):
    ed = etu.tree_structure(tree)
    back = pickle.loads(pickle.dumps(ed))
    assert back == ed and hash(back) == hash(ed) and str(back) == str(jtu.tree_structure(tree))


def test_array_node_data_compares_like_jax():
    class WithArray:
        def __init__(self, aux):
            self.aux = aux

    for tu in BOTH:
        tu.register_pytree_node(WithArray, lambda w: ((), w.aux), lambda aux, _: WithArray(aux))
    for a, b in [(np.array([1, 2]), np.array([1, 2]))]:
        with pytest.raises(ValueError):
            jtu.tree_structure(WithArray(a)) == jtu.tree_structure(WithArray(b))
        with pytest.raises(ValueError, match="node data"):
            etu.tree_structure(WithArray(a)) == etu.tree_structure(WithArray(b))
    for a, b in [(np.array(1), np.array(1)), (1.0, 2.0), (float("nan"), float("nan"))]:
        assert (etu.tree_structure(WithArray(a)) == etu.tree_structure(WithArray(b))) == (
            jtu.tree_structure(WithArray(a)) == jtu.tree_structure(WithArray(b))
        )
    assert hash(etu.tree_structure(WithArray(np.array([1, 2])))) is not None


def test_treedef_tuple_compose_and_node_data_roundtrip():
    parts = [1, (1, 2), None, {"a": NT(1, 2)}]
    et = etu.treedef_tuple(etu.tree_structure(p) for p in parts)
    jt = jtu.treedef_tuple([jtu.tree_structure(p) for p in parts])
    assert str(et) == str(jt) and et.num_leaves == jt.num_leaves and et.num_nodes == jt.num_nodes
    for outer, inner in [((1, 2), [1, None]), (Point(1, 2), (1,)), (1, {"a": 1}), ((), (1, 2))]:
        ec = etu.tree_structure(outer).compose(etu.tree_structure(inner))
        jc = jtu.tree_structure(outer).compose(jtu.tree_structure(inner))
        assert str(ec) == str(jc) and ec.num_leaves == jc.num_leaves
    for tree in TREES:
        ed, jd = etu.tree_structure(tree), jtu.tree_structure(tree)
        if jd.node_data() is None:
            continue
        rebuilt = etu.PyTreeDef.from_node_data_and_children(None, ed.node_data(), ed.children())
        jrebuilt = jtu.PyTreeDef.from_node_data_and_children(
            jtu.default_registry, jd.node_data(), jd.children()
        )
        assert rebuilt == ed and str(rebuilt) == str(jrebuilt)


def test_walk_and_from_iterable_tree_match_jax():
    for tree in [((1, 2), [3]), {"a": 1, "b": (2, None)}, NT(1, None), Point(1, (2, 3))]:
        leaves = list(range(10, 10 + jtu.tree_structure(tree).num_leaves))
        f_node = lambda children, aux: ("N", children, aux)  # noqa: E731
        f_leaf = lambda x: ("L", x)  # noqa: E731
        assert etu.tree_structure(tree).walk(f_node, f_leaf, leaves) == jtu.tree_structure(
            tree
        ).walk(f_node, f_leaf, leaves)
    for tree, iterable in [({"a": 1, "b": (2, 3)}, [1, [2, 3]]), (((1, 2), [3]), ((7, 8), (9,)))]:
        assert _deep_equal(
            etu.tree_structure(tree).from_iterable_tree(iterable),
            jtu.tree_structure(tree).from_iterable_tree(iterable),
        )


def test_unflatten_wrong_number_of_leaves_raises_like_jax():
    for tree, leaves in [((1, 2), [1]), ((1, 2), [1, 2, 3]), (None, [1]), (1, [])]:
        with pytest.raises(ValueError):
            jtu.tree_unflatten(jtu.tree_structure(tree), leaves)
        with pytest.raises(ValueError, match="leaves"):
            etu.tree_unflatten(etu.tree_structure(tree), leaves)


def test_flatten_up_to_matches_jax():
    def run(tu, prefix, full):
        try:
            return tu.tree_structure(prefix).flatten_up_to(full)
        except ValueError:
            return "ValueError"

    cases = [
        ((1, 2), ((1, 2), [3])),
        ((1, 2), [1, 2]),
        ({"a": 1}, {"b": 1}),
        ((1, (2, 3)), (1, 2)),
        ((1, (2, 3)), (1, (2, 3, 4))),
        ([1, [2, 3]], [1, [2]]),
        ((1, None), (1, None)),
        ((1, None), (1, 2)),
        (NT(1, 2), (1, 2)),
        (NT(1, 2), NTOther(1, 2)),
        ({"a": 1}, [1]),
        ({"a": 1}, {"a": 1, "b": 2}),
        (Point([1], 2, "a"), [1]),
        (Point(1, 2, "a"), Point(1, 2, "b")),
        (OD(a=1, b=2), OD(b=1, a=2)),
        (OD(a=1), {"a": 1}),
        (DD(int, a=1), DD(list, a=1)),
        (DD(int, a=1), DD(int, a=(1, 2))),
        (1, {"x": (1, 2)}),
        (DC(1, 2), DC(5, 3)),
        (DC(1, 2, 3), DC(5, 2, (6, 7))),
        (Box(1), Box([1, 2])),
        (Box(1), Box(1, {"k": 3})),
        (None, None),
        ((), ()),
        ({}, []),
        (Marker("a"), Marker("a")),
        (Marker("a"), Marker("b")),
    ]
    for prefix, full in cases:
        j, e = run(jtu, prefix, full), run(etu, prefix, full)
        assert (j == "ValueError") == (e == "ValueError"), (prefix, full, e)
        if j != "ValueError":
            assert _same_objects(e, j), (prefix, full)


def test_flatten_up_to_error_names_key_path():
    with pytest.raises(ValueError, match=r"\['a'\]\[0\]"):
        etu.tree_structure({"a": [(1, 2)]}).flatten_up_to({"a": [(1, 2, 3)]})


# ---------------------------------------------------------------- tree_map

MAP_CASES = [
    ((1, 2), (10, 20)),
    ({"a": (1, 2), "b": [3]}, {"b": [30], "a": (10, 20)}),
    ((1, 2), ((1, 3), [4])),  # a leaf of the first tree matches any subtree
    ((1, 2), (1, None)),
    ((None, 1), (None, 2)),
    (NT(1, (2, 3)), NT(4, (5, 6))),
    (Point(1, 2), Point(10, 20)),
    (Point(1, 2), Point(1, (2,))),
    (OD(b=1, a=2), OD(b=3, a=4)),
    (DD(int, b=1, a=2), DD(int, a=3, b=4)),
    (DC(1, "m", 2), DC(3, "m", 4)),
    (Marker("x"), Marker("x")),
    (None, None),
    (5, (1, 2)),
    # mismatches: both libraries must raise ValueError
    ((1, 2), (1, 2, 3)),
    ((1, 2), [1, 2]),
    ({"a": 1}, {"b": 1}),
    ({"a": 1}, {"a": 1, "b": 2}),
    ((1, None), (1, 2)),
    ((1, 2), 5),
    (NT(1, 2), (1, 2)),
    ((1, 2), NT(1, 2)),
    (OD(a=1), {"a": 1}),
    ({"a": 1}, DD(int, a=1)),
    (OD(a=1, b=2), OD(b=3, a=4)),
    (Point(1, 2, "a"), Point(1, 2, "b")),
    (None, 1),
    (None, ()),
    ((), None),
    ({}, []),
    (DC(1, "m"), DC(1, "n")),
    (Marker("x"), Marker("y")),
]


def _pairwise(*xs):
    return ("f",) + xs


@pytest.mark.parametrize("a,b", MAP_CASES)
def test_tree_map_two_trees_matches_jax(a, b):
    try:
        expected = jtu.tree_map(_pairwise, a, b)
    except ValueError:
        with pytest.raises(ValueError) as info:
            etu.tree_map(_pairwise, a, b)
        message = str(info.value)
        assert "tree_map" in message
        assert str(etu.tree_structure(a)) in message  # names both structures
        assert str(etu.tree_structure(b)) in message
        return
    assert _deep_equal(etu.tree_map(_pairwise, a, b), expected)
    assert _deep_equal(etree.map(_pairwise, a, b), jax.tree.map(_pairwise, a, b))


def test_tree_map_three_trees_and_with_path_match_jax():
    a, b, c = {"a": (1, 2), "b": [3]}, {"a": (10, 20), "b": [30]}, {"a": (100, 200), "b": [300]}
    add3 = lambda x, y, z: x + y + z  # noqa: E731
    assert _deep_equal(etu.tree_map(add3, a, b, c), jtu.tree_map(add3, a, b, c))
    with pytest.raises(ValueError):
        jtu.tree_map(add3, [1], [1], [1, 2])
    with pytest.raises(ValueError, match="tree 3"):
        etu.tree_map(add3, [1], [1], [1, 2])
    f = lambda p, x, y: (jtu.keystr(p), x, y)  # noqa: E731
    g = lambda p, x, y: (etu.keystr(p), x, y)  # noqa: E731
    tree = {"a": (1, NT(2, 3)), "b": [Keyed(4, 5)]}
    assert _deep_equal(etu.tree_map_with_path(g, tree, tree), jtu.tree_map_with_path(f, tree, tree))
    assert _deep_equal(etree.map_with_path(g, tree, tree), jax.tree.map_with_path(f, tree, tree))
    with pytest.raises(ValueError):
        jtu.tree_map_with_path(f, {"a": (1, 2)}, {"a": (3, 4, 5)})
    with pytest.raises(ValueError, match=r"tree_map_with_path.*\['a'\]"):
        etu.tree_map_with_path(g, {"a": (1, 2)}, {"a": (3, 4, 5)})


def test_tree_map_mismatch_message_points_at_the_difference():
    with pytest.raises(ValueError) as info:
        etu.tree_map(lambda x, y: x, {"a": [(1, 2)], "b": 3}, {"a": [(3, 4, 5)], "b": 3})
    assert "['a'][0]" in str(info.value)
    assert "3 children" in str(info.value)


# ---------------------------------------------------------------- is_leaf and None

IS_LEAF_CASES = [
    ((None, 1), lambda x: x is None),
    ([None, [None]], lambda x: x is None),
    (((1, 2), [3]), lambda x: isinstance(x, tuple)),
    (((1, 2), [3]), lambda x: True),
    ({"a": Point(1, 2), "b": [Point(3, 4)]}, lambda x: isinstance(x, Point)),
    ({"a": [1, 2], "b": [3]}, lambda x: isinstance(x, list) and len(x) == 1),
    ([1, [2]], lambda x: None),  # None counts as False
]


@pytest.mark.parametrize("tree,is_leaf", IS_LEAF_CASES)
def test_is_leaf_matches_jax(tree, is_leaf):
    jl, jd = jtu.tree_flatten(tree, is_leaf=is_leaf)
    el, ed = etu.tree_flatten(tree, is_leaf=is_leaf)
    assert _same_objects(el, jl) and str(ed) == str(jd)
    assert _same_objects(etu.tree_leaves(tree, is_leaf=is_leaf), jl)
    assert str(etu.tree_structure(tree, is_leaf=is_leaf)) == str(jd)
    ident = lambda x: x  # noqa: E731
    assert _deep_equal(
        etu.tree_map(ident, tree, is_leaf=is_leaf), jtu.tree_map(ident, tree, is_leaf=is_leaf)
    )
    jp = jtu.tree_leaves_with_path(tree, is_leaf=is_leaf)
    ep = etu.tree_leaves_with_path(tree, is_leaf=is_leaf)
    assert [jtu.keystr(p) for p, _ in jp] == [etu.keystr(p) for p, _ in ep]


def test_is_leaf_call_order_matches_jax():
    tree = ((1, None), {"a": [3], "b": Point(4, 5)})
    calls = {jtu: [], etu: []}
    for tu in BOTH:
        tu.tree_flatten(tree, is_leaf=lambda x, c=calls[tu]: c.append(x) or False)
    assert _same_objects(calls[etu], calls[jtu])


def test_is_leaf_takes_path_matches_jax():
    tree = {"a": (1, 2), "b": [3, (4,)]}
    is_leaf = lambda path, x: len(path) == 1  # noqa: E731
    jp = jtu.tree_leaves_with_path(tree, is_leaf=is_leaf, is_leaf_takes_path=True)
    ep = etu.tree_leaves_with_path(tree, is_leaf=is_leaf, is_leaf_takes_path=True)
    assert [jtu.keystr(p) for p, _ in jp] == [etu.keystr(p) for p, _ in ep]
    assert _same_objects([x for _, x in ep], [x for _, x in jp])


def test_non_bool_is_leaf_raises_like_jax():
    for value in [1, 0, np.True_]:
        with pytest.raises(ValueError):
            jtu.tree_leaves([1, [2]], is_leaf=lambda x: value)
        with pytest.raises(ValueError):
            etu.tree_leaves([1, [2]], is_leaf=lambda x: value)


def test_none_is_an_empty_pytree():
    for tu in BOTH:
        assert tu.tree_leaves(None) == [] and tu.tree_leaves([None, (None,)]) == []
        assert tu.tree_map(lambda x: x + 1, (None, 1)) == (None, 2)
        assert tu.tree_structure(None).num_leaves == 0
        assert tu.tree_unflatten(tu.tree_structure(None), []) is None
    assert str(etu.tree_structure(None)) == str(jtu.tree_structure(None)) == "PyTreeDef(None)"
    assert etu.tree_structure(None) != etu.tree_structure(())


def test_unsortable_dict_keys_raise_like_jax():
    for tree in [{1: "a", "b": 2}, {"b": 2, 1: "a", None: 3}]:
        with pytest.raises(ValueError):
            jtu.tree_flatten(tree)
        for fn in (etu.tree_flatten, etu.tree_leaves, etu.tree_flatten_with_path):
            with pytest.raises(ValueError, match="sort"):
                fn(tree)


# ---------------------------------------------------------------- registration


def test_duplicate_registration_raises_like_jax():
    for t in [tuple, list, dict, type(None), OD, DD, Point]:
        with pytest.raises(ValueError):
            jtu.register_pytree_node(t, lambda x: ((), None), lambda a, c: None)
        with pytest.raises(ValueError):
            etu.register_pytree_node(t, lambda x: ((), None), lambda a, c: None)


def test_registered_namedtuple_uses_the_registration():
    NT3 = collections.namedtuple("NT3", "a b")
    for tu in BOTH:
        tu.register_pytree_node(NT3, lambda t: ((t.b,), t.a), lambda a, c: NT3(a, c[0]))
    for tree in [NT3(1, 2), (NT3("x", [1]),)]:
        assert str(etu.tree_structure(tree)) == str(jtu.tree_structure(tree))
        assert _same_objects(etu.tree_leaves(tree), jtu.tree_leaves(tree))


def test_register_later_changes_a_cached_leaf_type():
    class Late:
        def __init__(self, v):
            self.v = v

    tree = (Late(1),)
    assert str(etu.tree_structure(tree)) == str(jtu.tree_structure(tree)) == "PyTreeDef((*,))"
    for tu in BOTH:
        tu.register_pytree_node(Late, lambda x: ((x.v,), None), lambda a, c: Late(*c))
    assert str(etu.tree_structure(tree)) == str(jtu.tree_structure(tree))
    assert etu.tree_leaves(tree) == jtu.tree_leaves(tree) == [1]


def _register_dataclass_outcome(tu, make_cls, *args, **kwargs):
    cls = make_cls()
    try:
        out = tu.register_dataclass(cls, *args, **kwargs)
    except (TypeError, ValueError) as e:
        return type(e)
    assert out is cls
    params = inspect.signature(cls).parameters
    instance = cls(**{name: [i] for i, name in enumerate(params)})
    return str(tu.tree_structure(instance)).replace(cls.__name__, "X"), tu.tree_leaves(instance)


def _make_pq():
    return dataclasses.make_dataclass("PQ", ["p", "q"])


def _make_init_false():
    return dataclasses.make_dataclass(
        "IF", [("p", int), ("q", int, dataclasses.field(init=False, default=2))]
    )


class _NotADataclass:
    def __init__(self, a, b):
        self.a, self.b = a, b


@pytest.mark.parametrize(
    "make_cls,args,kwargs",
    [
        (_make_pq, (), {}),
        (_make_pq, (["p"], ["q"]), {}),
        (_make_pq, (["p"], []), {}),  # missing field
        (_make_pq, (["p"], None), {}),  # only one of the two lists
        (_make_pq, (), {"meta_fields": ["p", "q"]}),
        (_make_pq, (["p"], ["p", "q"]), {}),  # overlap
        (_make_pq, (["p"], []), {"drop_fields": ["q"]}),
        (_make_init_false, (["p"], []), {}),
        (_make_init_false, (), {}),  # jax counts the init=False field and rejects it
        (lambda: _NotADataclass, (), {}),
        (lambda: type("NotDC", (_NotADataclass,), {}), (["a"], ["b"]), {}),
    ],
)
def test_register_dataclass_validation_matches_jax(make_cls, args, kwargs):
    expected = _register_dataclass_outcome(jtu, make_cls, *args, **kwargs)
    assert _register_dataclass_outcome(etu, make_cls, *args, **kwargs) == expected


def test_register_dataclass_decorator_and_static_field():
    @etu.register_dataclass
    @dataclasses.dataclass
    class Params:
        w: typing.Any
        act: str = etree.static(default="relu")
        b: typing.Any = 0

    @jtu.register_dataclass
    @dataclasses.dataclass
    class JParams:
        w: typing.Any
        act: str = jax.tree.static(default="relu")
        b: typing.Any = 0

    p, jp = Params([1, 2], "tanh", 3), JParams([1, 2], "tanh", 3)
    assert str(etu.tree_structure(p)) == str(jtu.tree_structure(jp)).replace("JParams", "Params")
    assert etu.tree_leaves(p) == jtu.tree_leaves(jp)
    assert [etu.keystr(k) for k, _ in etu.tree_leaves_with_path(p)] == [
        jtu.keystr(k) for k, _ in jtu.tree_leaves_with_path(jp)
    ]
    assert etu.tree_map(lambda x: x * 10, p) == Params([10, 20], "tanh", 30)
    assert etu.tree_structure(p) != etu.tree_structure(Params([1, 2], "relu", 3))


def test_register_pytree_with_keys_class_paths():
    class KC(KeyedClass):
        pass

    KC._engine = True
    etu.register_pytree_with_keys_class(KC)
    tree = {"x": KC(1)}
    assert [etu.keystr(p) for p, _ in etu.tree_leaves_with_path(tree)] == ["['x']['v']"]
    assert etu.tree_map(lambda v: v + 1, tree) == {"x": KC(2)}
    assert str(etu.tree_structure(tree)) == "PyTreeDef({'x': CustomNode(KC[None], [*])})"


# ---------------------------------------------------------------- Partial


def test_partial_is_a_pytree_like_jax():
    fn = lambda x, y, z=1: x + y + z  # noqa: E731
    ep, jp = etu.Partial(fn, 1, z=3), jtu.Partial(fn, 1, z=3)
    assert isinstance(ep, functools.partial) and ep(2) == jp(2) == 6
    assert etu.tree_leaves(ep) == jtu.tree_leaves(jp) == [1, 3]
    assert str(etu.tree_structure(ep)) == str(jtu.tree_structure(jp))
    assert [etu.keystr(p) for p, _ in etu.tree_leaves_with_path(ep)] == [
        jtu.keystr(p) for p, _ in jtu.tree_leaves_with_path(jp)
    ]
    mapped = etu.tree_map(lambda x: x * 10, ep)
    assert type(mapped) is etu.Partial and mapped(2) == jtu.tree_map(lambda x: x * 10, jp)(2) == 42
    assert etu.tree_structure(etu.Partial(fn, 1)) == etu.tree_structure(etu.Partial(fn, 2))
    assert etu.tree_structure(etu.Partial(max, 1)) != etu.tree_structure(etu.Partial(min, 1))
    assert str(etu.tree_structure(etu.Partial(max))) == str(jtu.tree_structure(jtu.Partial(max)))


def test_partial_of_partial_keeps_inner_arguments_static():
    inner = functools.partial(max, 1)
    ep, jp = etu.Partial(inner, 2), jtu.Partial(inner, 2)
    assert etu.tree_leaves(ep) == jtu.tree_leaves(jp) == [2]
    assert str(etu.tree_structure(ep)) == str(jtu.tree_structure(jp))
    assert ep(0) == jp(0) == 2 and ep(5) == jp(5) == 5
    assert ep.func.func is jp.func.func is max and ep.func.args == jp.func.args == (1,)
    nested = etu.Partial(ep, 7)
    assert etu.tree_leaves(nested) == jtu.tree_leaves(jtu.Partial(jp, 7)) == [7]


# ---------------------------------------------------------------- other functions


def test_reduce_all_transpose_broadcast_match_jax():
    add = operator.add
    for tree, init in [([1, (2, 3)], 100), ({"a": 1, "b": [2, 3, 4]}, 0), ([(1,), (2, 3)], 5)]:
        assert etu.tree_reduce(add, tree) == jtu.tree_reduce(add, tree)
        assert etu.tree_reduce(add, tree, init) == jtu.tree_reduce(add, tree, init)
        assert etree.reduce(add, tree) == jax.tree.reduce(add, tree)
    is_tuple = lambda x: isinstance(x, tuple)  # noqa: E731
    assert etu.tree_reduce(add, [(1,), (2, 3)], (), is_leaf=is_tuple) == jtu.tree_reduce(
        add, [(1,), (2, 3)], (), is_leaf=is_tuple
    )
    with pytest.raises(TypeError):
        jtu.tree_reduce(add, [])
    with pytest.raises(TypeError):
        etu.tree_reduce(add, [])
    concat = lambda a, b: f"({a}{b})"  # noqa: E731
    for n in range(1, 9):
        leaves = [str(i) for i in range(n)]
        assert etu.tree_reduce_associative(concat, leaves) == jtu.tree_reduce_associative(
            concat, leaves
        )
    assert etu.tree_reduce_associative(add, [], identity=0) == 0
    with pytest.raises(TypeError):
        etu.tree_reduce_associative(add, [])
    for tree in [[1, (2, 0)], [], [1, np.array(True)], {"a": [1, 2]}, [None]]:
        assert etu.tree_all(tree) == jtu.tree_all(tree) == etree.all(tree)
    assert etu.tree_all([(), (1,)], is_leaf=is_tuple) == jtu.tree_all([(), (1,)], is_leaf=is_tuple)

    for outer, inner, tree in [
        ([0, 0], (0, 0, 0), [(1, 2, 3), (4, 5, 6)]),
        ({"a": 0, "b": 0}, NT(0, 0), {"a": NT(1, 2), "b": NT(3, 4)}),
    ]:
        expected = jtu.tree_transpose(jtu.tree_structure(outer), jtu.tree_structure(inner), tree)
        eouter, einner = etu.tree_structure(outer), etu.tree_structure(inner)
        assert _deep_equal(etu.tree_transpose(eouter, einner, tree), expected)
        assert _deep_equal(etu.tree_transpose(eouter, None, tree), expected)
        assert _deep_equal(etree.transpose(eouter, None, tree), expected)
    with pytest.raises(TypeError):
        etu.tree_transpose(
            etu.tree_structure([0, 0]), etu.tree_structure((0, 0)), [(1, 2, 3), (4, 5, 6)]
        )

    for prefix, full in [
        ((1, 2), ((3, 4), {"a": 5})),
        (7, [1, (2, 3)]),
        ({"a": 1, "b": (2, 3)}, {"a": [1, 2], "b": (5, 6)}),
        ((1, None), ((2, 3), None)),
    ]:
        assert _deep_equal(etu.tree_broadcast(prefix, full), jtu.tree_broadcast(prefix, full))
        assert _deep_equal(etree.broadcast(prefix, full), jax.tree.broadcast(prefix, full))
    assert _deep_equal(
        etu.tree_broadcast((1, (2,)), ((3, 4), (5,)), is_leaf=lambda x: x == (2,)),
        jtu.tree_broadcast((1, (2,)), ((3, 4), (5,)), is_leaf=lambda x: x == (2,)),
    )
    with pytest.raises(ValueError):
        etu.tree_broadcast((1, 2), (1, 2, 3))


def test_jax_tree_namespace():
    tree = {"b": [1, (2, None)], "a": NT(3, 4)}
    names = [
        "all",
        "broadcast",
        "flatten",
        "flatten_with_path",
        "leaves",
        "leaves_with_path",
        "map",
        "map_with_path",
        "reduce",
        "reduce_associative",
        "static",
        "structure",
        "transpose",
        "unflatten",
    ]
    assert (
        sorted(etree.__all__)
        == sorted(names)
        == sorted(n for n in dir(jax.tree) if not n.startswith("_"))
    )
    assert etree.leaves(tree) == jax.tree.leaves(tree)
    el, ed = etree.flatten(tree)
    jl, jd = jax.tree.flatten(tree)
    assert el == jl and str(ed) == str(jd) and str(etree.structure(tree)) == str(jd)
    assert _deep_equal(etree.unflatten(ed, el), jax.tree.unflatten(jd, jl))
    assert [etu.keystr(p) for p, _ in etree.leaves_with_path(tree)] == [
        jtu.keystr(p) for p, _ in jax.tree.leaves_with_path(tree)
    ]
    assert [etu.keystr(p) for p, _ in etree.flatten_with_path(tree)[0]] == [
        jtu.keystr(p) for p, _ in jax.tree.flatten_with_path(tree)[0]
    ]
    assert etree.reduce_associative(operator.add, tree) == jax.tree.reduce_associative(
        operator.add, tree
    )
    assert _deep_equal(etree.map(lambda x: x * 2, tree), jax.tree.map(lambda x: x * 2, tree))
    assert etree.static(default=3).metadata == jax.tree.static(default=3).metadata


def test_tree_util_exports_what_jax_does():
    jax_names = {n for n in dir(jtu) if not n.startswith("_")} - {"default_registry"}
    assert jax_names <= set(dir(etu))
    assert jax_names - {"KeyEntry", "KeyPath"} <= set(etu.__all__)


# ---------------------------------------------------------------- keys


def test_key_entries_match_jax():
    pairs = [
        (etu.SequenceKey(0), jtu.SequenceKey(0)),
        (etu.DictKey("a"), jtu.DictKey("a")),
        (etu.DictKey((1, "x")), jtu.DictKey((1, "x"))),
        (etu.GetAttrKey("b"), jtu.GetAttrKey("b")),
        (etu.FlattenedIndexKey(3), jtu.FlattenedIndexKey(3)),
    ]
    for e, j in pairs:
        assert repr(e) == repr(j) and str(e) == str(j)
        assert type(e).__match_args__ == type(j).__match_args__
        assert getattr(e, type(e).__match_args__[0]) == getattr(j, type(j).__match_args__[0])
        assert e == type(e)(getattr(e, e.__match_args__[0]))
        assert hash(e) == hash(type(e)(getattr(e, e.__match_args__[0])))
        assert pickle.loads(pickle.dumps(e)) == e
    assert (etu.SequenceKey(0) == etu.DictKey(0)) == (jtu.SequenceKey(0) == jtu.DictKey(0))
    assert (etu.SequenceKey(0) == 0) == (jtu.SequenceKey(0) == 0)
    match etu.DictKey("k"):
        case etu.DictKey(key=k):
            assert k == "k"
    ekeys = tuple(e for e, _ in pairs)
    jkeys = tuple(j for _, j in pairs)
    assert etu.keystr(ekeys) == jtu.keystr(jkeys)
    assert etu.keystr(ekeys, simple=True) == jtu.keystr(jkeys, simple=True)
    assert etu.keystr(ekeys, simple=True, separator="/") == jtu.keystr(
        jkeys, simple=True, separator="/"
    )
    assert etu.keystr(()) == jtu.keystr(()) == ""
    assert etu.keystr(("a", 1)) == jtu.keystr(("a", 1))


# ---------------------------------------------------------------- random trees

_leaf = st.one_of(st.integers(-5, 5), st.none(), st.sampled_from(["s", 1.5]))


def _extend(children):
    keys = st.text(alphabet="abcxyz", min_size=1, max_size=3)
    return st.one_of(
        st.tuples(children, children),
        st.lists(children, max_size=3).map(tuple),
        st.lists(children, max_size=3),
        st.dictionaries(keys, children, max_size=3),
        st.dictionaries(st.integers(0, 9), children, max_size=2),
        st.builds(NT, children, children),
        st.dictionaries(keys, children, max_size=3).map(OD),
        st.dictionaries(keys, children, max_size=2).map(lambda d: DD(list, d)),
        st.builds(Point, children, children),
        st.builds(DC, children, st.just("m"), children),
    )


_trees_strategy = st.recursive(_leaf, _extend, max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(_trees_strategy)
def test_random_trees_match_jax(tree):
    jl, jd = jtu.tree_flatten(tree)
    el, ed = etu.tree_flatten(tree)
    assert _same_objects(el, jl)
    assert str(ed) == str(jd) and ed.num_leaves == jd.num_leaves and ed.num_nodes == jd.num_nodes
    assert _deep_equal(ed.unflatten(el), tree, ordered=False)
    assert _deep_equal(ed.unflatten(el), jd.unflatten(jl))
    assert ed == etu.tree_structure(tree) and hash(ed) == hash(etu.tree_structure(tree))
    jp = jtu.tree_leaves_with_path(tree)
    ep = etu.tree_leaves_with_path(tree)
    assert [jtu.keystr(p) for p, _ in jp] == [etu.keystr(p) for p, _ in ep]
    inc = lambda x: ("leaf", x)  # noqa: E731
    assert _deep_equal(etu.tree_map(inc, tree), jtu.tree_map(inc, tree))
    assert _deep_equal(etu.tree_map(_pairwise, tree, tree), jtu.tree_map(_pairwise, tree, tree))
    is_none = lambda x: x is None  # noqa: E731
    assert _same_objects(
        etu.tree_leaves(tree, is_leaf=is_none), jtu.tree_leaves(tree, is_leaf=is_none)
    )


@settings(max_examples=200, deadline=None)
@given(_trees_strategy, _trees_strategy)
def test_random_tree_pairs_match_jax(a, b):
    assert (etu.tree_structure(a) == etu.tree_structure(b)) == (
        jtu.tree_structure(a) == jtu.tree_structure(b)
    )
    try:
        expected = jtu.tree_map(_pairwise, a, b)
    except ValueError:
        with pytest.raises(ValueError):
            etu.tree_map(_pairwise, a, b)
        return
    assert _deep_equal(etu.tree_map(_pairwise, a, b), expected)


# ---------------------------------------------------------------- no jax at runtime


def test_engine_tree_util_does_not_import_jax():
    # Load the file on its own (not through the engine package) in a fresh interpreter.
    path = str(ROOT / "engine" / "tree_util.py")
    code = (
        "import importlib.util, sys; "
        f"spec = importlib.util.spec_from_file_location('tu', {path!r}); "
        "spec.loader.exec_module(importlib.util.module_from_spec(spec)); "
        "bad = [m for m in sys.modules if m == 'jax' or m.startswith('jax.')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
