"""A ClosedJaxpr as plain objects for the renderers and the source map.

Every equation, nested ones included, gets:

- ``id``: unique and stable for a given jaxpr: the top-level index (``"3"``), nested
  equations add their index (``"3_0"``). Where an equation holds several sub-jaxprs
  (cond branches, a while's body and cond) the sub-jaxpr's position comes first:
  ``"4_s1_0"`` is equation 0 of sub-jaxpr 1 of equation 4.
- ``tag_path`` / ``tag``: the path the engine's lowering gave the equation's ops
  (``lowering.eqn_tag``), which is what StableHLO locations and HLO ``op_name``
  metadata carry. Lowering numbers the equations of every sub-jaxpr of an equation
  under the same prefix, and lowers a nested ``jit``'s jaxpr once per module, so a tag
  path can belong to several equations here (``by_tag_path`` lists them all).
- variable names exactly as ``str(jaxpr)`` prints them (the engine's printer names
  them; this module reads the names it gave).
"""

from __future__ import annotations

from engine import core, pretty
from engine.interpreters import lowering

# Primitives lowered as a call to a private function, emitted once per module for a
# given jaxpr object (``lowering.call_function``): their sub-equations carry the tag
# path of the first equation that lowered that jaxpr.
FUNCTION_CALL_PRIMITIVES = ("jit",)


def eqn_id(x):
    """``3`` -> ``"3"``, ``(3, 0)`` -> ``"3_0"``, ``(4, "s1", 0)`` -> ``"4_s1_0"``."""
    if isinstance(x, (tuple, list)):
        return "_".join(map(str, x))
    return str(x)


class SubJaxprModel:
    """A sub-jaxpr of an equation: ``param`` (e.g. ``"branches"``) and ``position``
    within that param (branch number; 0 for a single jaxpr)."""

    __slots__ = (
        "parent",
        "index",
        "param",
        "position",
        "constvars",
        "invars",
        "outvars",
        "eqns",
        "jaxpr",
    )

    def __init__(self, parent, index, param, position, jaxpr):
        self.parent, self.index, self.param, self.position = parent, index, param, position
        self.jaxpr = jaxpr
        self.constvars, self.invars, self.outvars, self.eqns = [], [], [], []

    def to_dict(self):
        return {
            "parent": self.parent,
            "index": self.index,
            "param": self.param,
            "position": self.position,
            "constvars": self.constvars,
            "invars": self.invars,
            "outvars": self.outvars,
            "eqns": self.eqns,
        }


class JaxprEqnModel:
    __slots__ = (
        "id",
        "index",
        "parent",
        "sub_index",
        "tag_path",
        "tag",
        "primitive",
        "params",
        "invars",
        "outvars",
        "in_avals",
        "out_avals",
        "source",
        "subjaxprs",
        "shared_with",
        "live",
        "depth",
        "eqn",
    )

    def __init__(self, eqn, eid, index, parent, sub_index, tag_path, depth):
        self.eqn = eqn
        self.id, self.index, self.parent, self.sub_index = eid, index, parent, sub_index
        self.tag_path = tag_path
        self.primitive = eqn.primitive.name
        self.tag = lowering.eqn_tag(self.primitive, tag_path)
        self.params = {}
        self.invars, self.outvars = [], []
        self.in_avals = [v.aval.str_short() for v in eqn.invars]
        self.out_avals = [v.aval.str_short() for v in eqn.outvars]
        si = eqn.source_info
        self.source = (si.file, si.line, si.function) if si is not None else None
        self.subjaxprs = []
        self.shared_with = None  # id of the first equation with the same JaxprEqn object
        self.live = True
        self.depth = depth

    @property
    def path(self):
        return tuple(self.id.split("_"))

    @property
    def line(self):
        return self.source[1] if self.source else None

    @property
    def file(self):
        return self.source[0] if self.source else None

    def text(self, names):
        """The equation as printed (with its sub-jaxprs); ``names`` from the model."""
        return pretty.pp_eqn(self.eqn, names, 0)

    def __repr__(self):
        return f"<eqn {self.id} {self.primitive} {' '.join(self.outvars)}>"

    def to_dict(self):
        return {
            "id": self.id,
            "index": self.index,
            "parent": self.parent,
            "sub_index": self.sub_index,
            "tag": self.tag,
            "tag_path": list(self.tag_path),
            "primitive": self.primitive,
            "params": self.params,
            "invars": self.invars,
            "outvars": self.outvars,
            "in_avals": self.in_avals,
            "out_avals": self.out_avals,
            "source": None
            if self.source is None
            else {"file": self.source[0], "line": self.source[1], "function": self.source[2]},
            "subjaxprs": [s.to_dict() for s in self.subjaxprs],
            "shared_with": self.shared_with,
            "live": self.live,
            "depth": self.depth,
        }


class JaxprModel:
    """``JaxprModel(closed_jaxpr)``: ``eqns`` (top level), ``all_eqns`` (every equation,
    in printed order), ``eqn(id)``, ``by_tag_path``, ``text`` (= ``str(closed)``)."""

    def __init__(self, closed):
        self.closed = closed
        jaxpr = closed.jaxpr if isinstance(closed, core.ClosedJaxpr) else closed
        self.jaxpr = jaxpr
        self.names = pretty.Names()
        self.text = pretty.pp_jaxpr(jaxpr, names=self.names)  # assigns every name
        self.constvars = [self._binder(v) for v in jaxpr.constvars]
        self.invars = [self._binder(v) for v in jaxpr.invars]
        self.outvars = [self._atom(v) for v in jaxpr.outvars]
        self.all_eqns = []
        self._by_id = {}
        self.by_tag_path = {}
        self._first_instance = {}  # id(JaxprEqn) -> eqn id
        self._fn_base = {}  # id(Jaxpr) -> tag path its function was lowered under
        self.eqns = self._walk(jaxpr, (), (), None, None, 0, set_live=None)

    # -- naming, as the printer named things
    def name(self, v):
        if isinstance(v, core.DropVar):
            return "_"
        return self.names(v)

    def _atom(self, a):
        return pretty.literal_str(a) if type(a) is core.Literal else self.name(a)

    def _binder(self, v):
        return f"{self.name(v)}:{v.aval.str_short()}"

    # -- the walk (printed order: an equation, then the equations of its sub-jaxprs)
    def _walk(self, jaxpr, id_prefix, tag_base, parent, sub_index, depth, set_live):
        live, needed = _live_eqns(jaxpr, set_live)
        ids = []
        for i, eqn in enumerate(jaxpr.eqns):
            eid = "_".join(id_prefix + (str(i),))
            m = JaxprEqnModel(eqn, eid, i, parent, sub_index, tag_base + (i,), depth)
            m.live = live[i]
            m.invars = [self._atom(a) for a in eqn.invars]
            m.outvars = [self.name(v) for v in eqn.outvars]
            first = self._first_instance.setdefault(id(eqn), eid)
            if first != eid:
                m.shared_with = first
            self.all_eqns.append(m)
            self._by_id[eid] = m
            self.by_tag_path.setdefault(m.tag_path, []).append(m)
            ids.append(eid)
            subs = self._params_and_subjaxprs(m, eqn)
            for k, (param, position, sub) in enumerate(subs):
                sj = sub.jaxpr if isinstance(sub, core.ClosedJaxpr) else sub
                sm = SubJaxprModel(eid, k, param, position, sub)
                sm.constvars = [self._binder(v) for v in sj.constvars]
                sm.invars = [self._binder(v) for v in sj.invars]
                sm.outvars = [self._atom(v) for v in sj.outvars]
                m.subjaxprs.append(sm)
                if m.primitive in FUNCTION_CALL_PRIMITIVES:
                    base = self._fn_base.setdefault(id(sj), m.tag_path)
                else:  # lowering numbers sub-jaxprs when an equation has several
                    base = m.tag_path if len(subs) == 1 else m.tag_path + (f"s{k}",)
                prefix = (eid,) if len(subs) == 1 else (eid, f"s{k}")
                sub_live = _sub_outputs_live(m, eqn, sj, needed)
                sm.eqns = self._walk(sj, prefix, base, eid, k, depth + 1, sub_live)
        return ids

    def _params_and_subjaxprs(self, m, eqn):
        """Fill ``m.params`` as the printer shows them; return the sub-jaxprs in printed
        order as (param, position, jaxpr)."""
        params = eqn.params
        hook = getattr(eqn.primitive, "pp_params", None)
        keys = sorted(params)
        if hook is not None:
            params = hook(params)
            keys = list(params)
        subs = []
        for key in keys:
            v = params[key]
            if isinstance(v, (core.ClosedJaxpr, core.Jaxpr)):
                subs.append((key, 0, v))
            elif (
                isinstance(v, tuple)
                and v
                and any(isinstance(x, (core.ClosedJaxpr, core.Jaxpr)) for x in v)
            ):
                subs.extend(
                    (key, j, x)
                    for j, x in enumerate(v)
                    if isinstance(x, (core.ClosedJaxpr, core.Jaxpr))
                )
            else:
                m.params[key] = pretty.format_param(v, self.names, 0)
        return subs

    # -- queries
    def eqn(self, eid):
        """The equation with id ``eid`` (also accepted: an int or a path tuple)."""
        return self._by_id[eqn_id(eid)]

    def __contains__(self, eid):
        return eqn_id(eid) in self._by_id

    def __iter__(self):
        return iter(self.all_eqns)

    def __len__(self):
        return len(self.all_eqns)

    def children(self, eid):
        m = self._by_id[eid]
        return [e for s in m.subjaxprs for e in s.eqns]

    def descendants(self, eid):
        """Ids of every equation nested inside ``eid``, in printed order."""
        out = []
        for c in self.children(eid):
            out.append(c)
            out.extend(self.descendants(c))
        return out

    def ancestors(self, eid):
        """Ids of the equations enclosing ``eid``, innermost first."""
        out, p = [], self._by_id[eid].parent
        while p is not None:
            out.append(p)
            p = self._by_id[p].parent
        return out

    def is_within(self, eid, ancestor):
        return eid == ancestor or ancestor in self.ancestors(eid)

    def eqns_for_tag(self, prim, tag_path, within=None):
        """Equations whose ops carry the tag ``prim.eqn<tag_path>``; ``within``: only
        those nested in that equation."""
        out = [e for e in self.by_tag_path.get(tuple(tag_path), ()) if e.primitive == prim]
        if not out:  # a primitive printed under another name than its tag: trust the path
            out = list(self.by_tag_path.get(tuple(tag_path), ()))
        if within is not None:
            out = [e for e in out if self.is_within(e.id, within)]
        return out

    def lines(self):
        """{(file, line): [eqn ids]} for every equation with a source location."""
        out = {}
        for e in self.all_eqns:
            if e.source is not None:
                out.setdefault((e.source[0], e.source[1]), []).append(e.id)
        return out

    def __repr__(self):
        return f"<JaxprModel: {len(self.eqns)} equations ({len(self.all_eqns)} with nested)>"

    def to_dict(self):
        return {
            "text": self.text,
            "constvars": self.constvars,
            "invars": self.invars,
            "outvars": self.outvars,
            "eqns": self.eqns,
            "all_eqns": {e.id: e.to_dict() for e in self.all_eqns},
        }


def _live_eqns(jaxpr, outputs_live=None):
    """Which equations feed the jaxpr's outputs (``outputs_live``: a bool per output;
    all live when None). Nothing is live when the jaxpr itself is dead."""
    needed = set()
    for k, v in enumerate(jaxpr.outvars):
        if type(v) is not core.Literal and (outputs_live is None or outputs_live[k]):
            needed.add(v)
    live = [False] * len(jaxpr.eqns)
    for i in range(len(jaxpr.eqns) - 1, -1, -1):
        eqn = jaxpr.eqns[i]
        if any(v in needed for v in eqn.outvars if not isinstance(v, core.DropVar)):
            live[i] = True
            needed.update(v for v in eqn.invars if type(v) is not core.Literal)
    return live, needed


def _sub_outputs_live(m, eqn, sub_jaxpr, needed):
    """Which outputs of a sub-jaxpr matter. A dead equation's sub-jaxpr is dead; a call
    (``jit``) passes its outputs through one to one; for loops and branches every
    output is taken as live (XLA may still drop some)."""
    n = len(sub_jaxpr.outvars)
    if not m.live:
        return [False] * n
    if m.primitive in FUNCTION_CALL_PRIMITIVES and n == len(eqn.outvars):
        return [v in needed for v in eqn.outvars]
    return [True] * n
