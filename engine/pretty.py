"""The text form of jaxprs, the same as JAX's: ``{ lambda ; a:f32[3]. let b:f32[3] = sin a in (b,) }``."""

from __future__ import annotations

import collections
import enum
import string

import numpy as np

from . import core, dtypes

WIDTH = 80


class _Names:
    """a, b, ..., z, ba, bb, ... shared by a jaxpr and the jaxprs nested in it."""

    def __init__(self):
        self.names = {}
        self.count = 0
        self.shared = {}  # jaxpr -> its name, for jaxprs printed once above the top level
        self.top_level = None  # the top-level jaxpr's equation outputs, when known

    def dropped(self, v):
        """Whether ``v`` prints as ``_``: a dropped output, or an unread one of the
        top-level jaxpr (JAX names unread outputs of nested jaxprs)."""
        if not isinstance(v, core.DropVar):
            return False
        return type(v) is not core.UnreadVar or self.top_level is None or v in self.top_level

    def __call__(self, v):
        if self.dropped(v):
            return "_"
        name = self.names.get(v)
        if name is None:
            name = self.names[v] = _encode(self.count) + getattr(v, "suffix", "")
            self.count += 1
        return name


def _encode(n):
    letters = string.ascii_lowercase
    s = ""
    while True:
        s = letters[n % 26] + s
        n //= 26
        if n == 0:
            break
    return s


def _literal_str(lit):
    dt = lit.aval.dtype
    if dt == dtypes.float0:
        return f"(b'',):{lit.aval.str_short()}"
    if type(lit.val) is core.WeakScalar and type(lit.val.value) is float and dt.kind == "f":
        return f"{lit.val.value!r}:{lit.aval.str_short()}"  # kept unrounded, as JAX
    v = np.asarray(lit.val)
    if v.shape == ():
        x = v.item()
        if dt == np.bool_:
            s = str(bool(x))
        elif np.issubdtype(dt, np.integer):
            s = str(int(x))
        elif np.issubdtype(dt, np.complexfloating):
            s = repr(complex(x))
        else:
            s = repr(float(x))
    else:
        s = np.array2string(v, separator=", ")
    return f"{s}:{lit.aval.str_short()}"


def _atom(a, names):
    return _literal_str(a) if type(a) is core.Literal else names(a)


def _binder(v, names):
    return f"{names(v)}:{v.aval.str_short()}"


def format_param(v, names, indent, prefix=0):
    """A param's text; ``prefix`` is the width of "name=" before it on its line."""
    if isinstance(v, core.ClosedJaxpr):
        v = v.jaxpr
    if isinstance(v, core.Jaxpr):
        shared = names.shared.get(v)
        if shared is not None:
            return shared
        return pp_jaxpr(v, names=names, indent=indent, prefix=prefix)
    if isinstance(v, np.dtype):
        return v.name
    if isinstance(v, type) and issubclass(v, np.generic):
        return np.dtype(v).name
    if isinstance(v, enum.Enum):
        return str(v)
    if isinstance(v, tuple) and v and any(isinstance(x, (core.ClosedJaxpr, core.Jaxpr)) for x in v):
        items = [format_param(x, names, indent + 2) for x in v]
        hoisted = [
            getattr(x, "jaxpr", x) for x in v if isinstance(x, core.ClosedJaxpr | core.Jaxpr)
        ]
        if len(hoisted) == len(v) and all(j in names.shared for j in hoisted):  # (jaxpr jaxpr)
            return f"({' '.join(items)})"
        pad = " " * (indent + 2)
        body = "".join(f"\n{pad}{t}" for t in items)
        return f"({body}\n{' ' * indent})"
    if callable(v) and hasattr(v, "__name__"):
        return v.__name__
    return str(v)


def _pp_params(eqn, names, indent):
    prim = eqn.primitive
    params = eqn.params
    hook = getattr(prim, "pp_params", None)
    keys = sorted(params)
    if hook is not None:  # a primitive may hide or order its params as JAX prints them
        params = hook(params)
        keys = list(params)
    return [f"{k}={format_param(params[k], names, indent + 2, len(k) + 1)}" for k in keys]


def _fill(items, column, indent, sep=""):
    """A list of variables as JAX's printer lays it out from ``column``: on one line when
    it all fits in WIDTH; otherwise each item after a separator goes on the same line
    while the line has not reached WIDTH, else on a new line at ``indent + 2``."""
    if not items or column + len((sep + " ").join(items)) <= WIDTH:
        return (sep + " ").join(items)
    text, col = items[0], column + len(items[0])
    for item in items[1:]:
        text, col = text + sep, col + len(sep)
        if col + 1 <= WIDTH:
            text, col = f"{text} {item}", col + 1 + len(item)
        else:
            text, col = f"{text}\n{' ' * (indent + 2)}{item}", indent + 2 + len(item)
    return text


def _last_line_width(text, column):
    """The column where ``text`` ends when written from ``column``."""
    tail = text.rsplit("\n", 1)
    return column + len(text) if len(tail) == 1 else len(tail[1])


def pp_eqn(eqn, names, indent):
    """The lines of one equation (the first one unindented)."""
    custom = getattr(eqn.primitive, "pp_eqn", None)
    if custom is not None:  # written its own way (a ref read ``b:f32[] <- a[1]``)
        return custom(eqn, names)
    if getattr(eqn.primitive, "pp_alias_subjaxpr", False):  # before the results are named
        _alias_subjaxpr(eqn, names)
    outs = _fill([_binder(v, names) for v in eqn.outvars], indent, indent)
    ins = [_atom(a, names) for a in eqn.invars]
    params = _pp_params(eqn, names, indent)
    head = f"{outs} = {eqn.primitive.name}" if eqn.outvars else eqn.primitive.name
    one = f"{head}[{' '.join(params)}]" if params else head
    # As JAX's printer: the params stay on one line when the text up to "]" fits.
    if params and (any("\n" in p for p in params) or _last_line_width(one, indent) > WIDTH):
        pad = " " * (indent + 2)
        body = "".join(f"\n{pad}{p}" for p in params)
        one = f"{head}[{body}\n{' ' * indent}]"
    return f"{one} {_fill(ins, _last_line_width(one, indent) + 1, indent)}"


def _alias_subjaxpr(eqn, names):
    """As JAX prints a nested jit: its inputs and outputs take the names of the
    equation's own operands and results."""
    sub = eqn.params.get("jaxpr")
    sub = getattr(sub, "jaxpr", sub)
    if sub is None or sub in names.shared:
        return
    used = set()
    for inner, outer in zip(sub.invars, eqn.invars):
        if type(outer) is core.Var and inner not in names.names and outer not in used:
            names.names[inner] = names(outer)
            used.add(outer)
    for inner, outer in zip(sub.outvars, eqn.outvars):
        if type(inner) is core.Var and inner not in names.names:
            # a dropped result names its inner variable '_' too, as JAX prints it
            names.names[inner] = "_" if names.dropped(outer) else names(outer)


def pp_eqn_str(eqn):
    return pp_eqn(eqn, _Names(), 0)


def _jaxprs_in_params(params):
    for value in params.values():
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, core.ClosedJaxpr):
                yield v.jaxpr
            elif isinstance(v, core.Jaxpr):
                yield v


def _shared_jaxprs(top):
    """As JAX's printer: the nested jaxprs used more than once, or with more than 10
    equations, each named after the first equation with a ``name`` param that holds it ("jaxpr"
    otherwise, numbered when names repeat), in breadth-first order."""
    counts, names = {}, {}
    queue = collections.deque([top])
    while queue:
        jaxpr = queue.popleft()
        counts[jaxpr] = counts.get(jaxpr, 0) + 1
        if jaxpr is not top and len(jaxpr.eqns) > 10:
            counts[jaxpr] += 1
        for eqn in jaxpr.eqns:
            # JAX's custom_jvp_call / custom_vjp_call hold no `name` param (their printer
            # adds it), so the jaxprs they carry keep the default name "jaxpr".
            custom_call = eqn.primitive.name in ("custom_jvp_call", "custom_vjp_call")
            name = None if custom_call else eqn.params.get("name")
            for sub in _jaxprs_in_params(eqn.params):
                queue.append(sub)
                if isinstance(name, str):
                    names.setdefault(sub, name.strip("<>"))
    shared, used = {}, collections.Counter()
    for jaxpr, count in counts.items():
        if count == 1:
            continue
        name = names.get(jaxpr, "jaxpr")
        if used[name] > 0:
            used[name] += 1
            name += str(used[name] - 1)
        used[name] += 1
        shared[jaxpr] = name
    return shared


def pp_jaxpr(jaxpr, names=None, indent=0, prefix=0, hoist=True):
    """A jaxpr's text as JAX prints it; ``hoist=False`` writes every nested jaxpr where it
    is used instead of naming shared or long ones first (``let name = {...} in``), the
    form the visualizer's linked panes show."""
    if names is None:
        names = _Names()
        names.shared = _shared_jaxprs(jaxpr) if hoist else {}
        names.top_level = {v for e in jaxpr.eqns for v in e.outvars}
        if names.shared:
            lets = []
            for sub, name in names.shared.items():
                text = _pp_jaxpr(sub, names, 0, len(f"let {name} = "))
                lets.append(f"let {name} = {text} in\n")
            return "".join(lets) + _pp_jaxpr(jaxpr, names, indent, prefix)
    return _pp_jaxpr(jaxpr, names, indent, prefix)


def _pp_jaxpr(jaxpr, names, indent, prefix):
    consts = [_binder(v, names) for v in jaxpr.constvars]
    invars = [_binder(v, names) for v in jaxpr.invars]
    eqn_strs = [pp_eqn(e, names, indent + 4) for e in jaxpr.eqns]
    outs = [_atom(v, names) for v in jaxpr.outvars]
    close = ",) }" if len(outs) == 1 else ") }"
    one_line = (
        f"{{ lambda {' '.join(consts)}; {' '.join(invars)}. let {'; '.join(eqn_strs)} "
        f"in ({', '.join(outs)}{close}"
    )
    if "\n" not in one_line and indent + prefix + len(one_line) <= WIDTH:
        return one_line
    # Broken over lines, each variable list still fills its line as JAX's printer does.
    head = "{ lambda " + _fill(consts, indent + prefix + 9, indent + 2)
    head += "; " + _fill(invars, _last_line_width(head, indent + prefix) + 2, indent + 2)
    pad = " " * (indent + 4)
    # (an empty body leaves its indented line blank, as JAX's printer does)
    body = "".join(f"\n{pad}{s}" for s in eqn_strs) if eqn_strs else f"\n{pad}"
    tail = "in (" + _fill(outs, indent + 6, indent + 2, sep=",") + close
    return f"{head}. let{body}\n{' ' * (indent + 2)}{tail}"


# Public names for renderers (visualize) that must name variables exactly as printed.
Names = _Names
literal_str = _literal_str
