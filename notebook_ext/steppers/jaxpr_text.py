"""A jaxpr's text, one equation at a time, with the names ``str(jaxpr)`` gives: so a
stepper can show the first k equations (or a window of them) without re-printing the
whole program at every step."""

from __future__ import annotations

from engine import core, pretty


class JaxprText:
    """``JaxprText(jaxpr)``: ``text`` (== ``str(jaxpr)``), ``eqn_text(i)``, ``name(atom)``,
    ``prefix(k)`` (the jaxpr while being built: header and the first k equations)."""

    def __init__(self, jaxpr):
        self.closed = jaxpr
        self.jaxpr = jaxpr.jaxpr if isinstance(jaxpr, core.ClosedJaxpr) else jaxpr
        self.names = pretty.Names()
        self.text = pretty.pp_jaxpr(self.jaxpr, names=self.names)  # names every variable
        self.eqns = self.jaxpr.eqns
        self.index = {id(e): i for i, e in enumerate(self.eqns)}
        self._lines = {}
        self._nested = None

    def __len__(self):
        return len(self.eqns)

    def name(self, v):
        if type(v) is core.Literal:
            return pretty.literal_str(v)
        if isinstance(v, core.Var):
            return self.names(v)
        return str(v)

    def binder(self, v):
        return f"{self.name(v)}:{v.aval.str_short()}"

    def header(self):
        j = self.jaxpr
        consts = " ".join(self.binder(v) for v in j.constvars)
        ins = " ".join(self.binder(v) for v in j.invars)
        return f"{{ lambda {consts}; {ins}. let" if consts else f"{{ lambda ; {ins}. let"

    def footer(self):
        outs = ", ".join(self.name(v) for v in self.jaxpr.outvars)
        return f"  in ({outs}{',' if len(self.jaxpr.outvars) == 1 else ''}) }}"

    def eqn_text(self, i):
        """Equation i as printed (several lines when it holds sub-jaxprs), unindented."""
        t = self._lines.get(i)
        if t is None:
            t = self._lines[i] = pretty.pp_eqn(self.eqns[i], self.names, 4)
        return t

    def prefix(self, k, complete=None):
        """The jaxpr after k equations; ``complete`` (default: k is all of them) gives the
        full text, which is ``str(jaxpr)`` exactly."""
        if complete is None:
            complete = k >= len(self.eqns)
        if complete:
            return self.text
        body = "".join(f"\n    {self.eqn_text(i)}" for i in range(k))
        return f"{self.header()}{body}\n    \u2026"

    def window(self, k, size=40):
        """(first index, [(index, text)]) of the last ``size`` equations of the first k."""
        first = max(0, k - size)
        return first, [(i, self.eqn_text(i)) for i in range(first, k)]

    # -- equations of sub-jaxprs
    def nested(self):
        """{id(eqn): "i" or "i_j..." } for every equation, sub-jaxprs included."""
        if self._nested is None:
            out = {}
            stack = [(self.jaxpr, "")]
            while stack:
                j, prefix = stack.pop()
                for i, e in enumerate(j.eqns):
                    eid = f"{prefix}{i}"
                    out.setdefault(id(e), eid)
                    subs = e.primitive.subjaxprs(e.params)
                    for k, s in enumerate(subs):
                        sj = s.jaxpr if isinstance(s, core.ClosedJaxpr) else s
                        tag = f"{eid}_" if len(subs) == 1 else f"{eid}_s{k}_"
                        stack.append((sj, tag))
            self._nested = out
        return self._nested
