"""The kernel side of the session inspector: what the JupyterLab sidebar lists.

The sidebar opens a comm to the ``glassjax.inspector`` target and sends requests
``{"request": "list" | "detail" | "explorer" | "passes", "key": ..., "rid": ...}``;
each reply echoes ``rid``. After every cell that changed the list, the kernel also
pushes ``{"kind": "list"}`` to every open inspector comm, so the sidebar follows the
notebook without polling.

``explorer`` answers with the explorer's page (every pane, fusion graph, executable) of
one cached program of the function (``index``; the newest by default); ``passes`` with
one step of the XLA pass stepper of that program (``step``, ``unchanged``). Each list
row carries a ``stamp`` of the programs its cache holds, so the main-area explorer knows
when the function was recompiled.
"""

import collections
import hashlib
import inspect
import itertools
import os
import uuid
import weakref

import engine
import visualize

COMM_TARGET = "glassjax.inspector"

_ENGINE_DIRS = tuple(
    os.path.dirname(os.path.abspath(m.__file__)) + os.sep for m in (engine, visualize)
)
_keys = weakref.WeakKeyDictionary()
_serial = itertools.count(1)


def _key(f):
    k = _keys.get(f)
    if k is None:
        k = _keys[f] = f"f{next(_serial)}"
    return k


def _is_internal(f):
    """Functions the engine jits for itself (engine.random's helpers, ...). Wrappers such
    as ``grad(f)`` are unwrapped first, so ``jit(grad(f))`` counts as the user's."""
    try:
        fun = inspect.unwrap(f.fun)
    except (AttributeError, ValueError):
        return False
    code = getattr(fun, "__code__", None)
    path = os.path.abspath(code.co_filename) if code else ""
    return path.startswith(_ENGINE_DIRS)


def user_jitted():
    """The jitted functions the user's code has run or traced, oldest first; one per
    function (every ``jit`` of a function shares its cache, so they would list the same
    programs and counts)."""
    mine = [
        f
        for f in engine.all_jitted()
        if f.trace_count and not _is_internal(f) and not getattr(f, "_glassjax_tool", False)
    ]  # not the jits made by our own widgets, nor those the engine made for itself
    fns, seen = [], set()
    for f in sorted(mine, key=lambda f: int(_key(f)[1:])):
        cache_id = f.cache_info().cache_id
        if cache_id not in seen:
            seen.add(cache_id)
            fns.append(f)
    return fns


def function_info(f, info=None):
    """The sidebar's row for ``f``, from its public ``cache_info()``."""
    info = info or f.cache_info()
    return {
        "key": _key(f),
        "name": f.__name__,
        "trace_count": info.trace_count,
        "lower_count": info.lower_count,
        "compile_count": info.compile_count,
        "cache_hits": info.hits,
        "compile_seconds": round(float(info.compile_seconds), 6),
        "programs": len(info.entries),
        "stamp": programs_stamp(info),
    }


def programs_stamp(info):
    """Changes when the cache gains a program or one gets lowered or compiled; not when
    a cached program runs again (a hit) or is compiled once more for a view."""
    parts = [
        (signature_label(e.signature), e.lowered is not None, e.compiled is not None)
        for e in info.entries
    ]
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:12]


def list_functions():
    return [function_info(f) for f in user_jitted()]


def signature_label(sig):
    """A cache entry's signature as the sidebar shows it: ``(f32[4], n=2)``, plus the
    options that made it a different program (donation, XLA options)."""
    text = str(sig)
    if sig.donate_argnums:
        text += f" donate={list(sig.donate_argnums)}"
    if sig.compiler_options:
        text += " xla{" + ", ".join(f"{k}={v!r}" for k, v in sig.compiler_options) + "}"
    return text


def programs(f, info=None):
    """One entry per cached signature: its jaxpr text and, once compiled, XLA's
    optimized HLO. Reads ``f.cache_info()`` (no re-tracing, no compiling)."""
    info = info or f.cache_info()
    return [
        {
            "signature": signature_label(e.signature),
            "device": str(e.signature.device) if e.compiled is not None else "",
            "jaxpr": str(e.traced.jaxpr),
            "hlo": e.compiled.as_text() if e.compiled is not None else None,
        }
        for e in info.entries
    ]


def detail(key):
    for f in user_jitted():
        if _key(f) == key:
            info = f.cache_info()
            return {
                "key": key,
                "name": f.__name__,
                "info": function_info(f, info),
                "programs": programs(f, info),
            }
    return {
        "key": key,
        "name": "?",
        "info": None,
        "programs": [],
        "error": "this function is gone (the kernel forgot it)",
    }


def _function(key):
    for f in user_jitted():
        if _key(f) == key:
            return f
    raise LookupError("this function is gone (the kernel forgot it)")


def _entry(f, index):
    """(info, index, entry): the cached program ``index`` (None: the newest)."""
    info = f.cache_info()
    n = len(info.entries)
    if n == 0:
        raise LookupError(f"{f.__name__} has no cached program: call it first")
    if index is None:
        index = n - 1
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
        raise IndexError(f"program index {_clip(repr(index))} out of range: {n} cached")
    return info, index, info.entries[index]


_VIEWS_KEPT = 4  # explorer pages and pass steppers kept per kernel (each is megabytes)
_explorer_pages = collections.OrderedDict()
_pass_steppers = collections.OrderedDict()


def _remember(cache, key, make):
    value = cache.get(key)
    if value is None:
        value = make()
        while len(cache) >= _VIEWS_KEPT:
            _, old = cache.popitem(last=False)
            close = getattr(old, "close_views", None)
            if close is not None:
                close()
    cache[key] = value
    cache.move_to_end(key)
    return value


def explorer_page_html(f, entry):
    """The explorer's page of one cache entry, from its stage objects (an entry only
    traced is lowered here; one not compiled shows no optimized panes)."""
    import visualize
    from visualize import graph as G

    from .explorer import LARGE_PROGRAM_EQNS, PANES, explorer_page
    from .rich_display import style_tag

    lowered = entry.lowered if entry.lowered is not None else entry.traced.lower()
    compiled = entry.compiled
    stages = visualize.StageModels(entry.traced, lowered, compiled)
    uid = "gjx-" + uuid.uuid4().hex[:10]
    panes = set(PANES)
    if len(stages.jaxpr.all_eqns) > LARGE_PROGRAM_EQNS:
        panes -= {"StableHLO", "HLO"}
    graph = report = partition = None
    if compiled is not None:
        from .explorer import _partitioning_of

        graph = G.hlo_graph(stages.hlo_opt, id_prefix=uid + "-")
        report = visualize.executable_report(compiled)
        partition = _partitioning_of(lowered, compiled)
    page, info = explorer_page(
        stages,
        panes,
        uid=uid,
        graph_view=graph,
        report=report,
        exe_note="not measured: the sidebar has the program, not argument values "
        "(explore(f, *args) measures)",
        partition=partition,
    )
    return style_tag() + page, info["graph"]


def explorer_view(key, index=None):
    """The main-area explorer's reply: the page of program ``index`` and what to pick."""
    f = _function(key)
    info, index, entry = _entry(f, index)
    stamp = programs_stamp(info)
    page, graph_how = _remember(
        _explorer_pages, (key, stamp, index), lambda: explorer_page_html(f, entry)
    )
    return {
        "key": key,
        "name": f.__name__,
        "index": index,
        "signatures": [signature_label(e.signature) for e in info.entries],
        "compiled": entry.compiled is not None,
        "stamp": stamp,
        "graph_layout": graph_how,
        "html": page,
    }


def passes_view(key, index=None, step=None, unchanged=False):
    """One step of the pass stepper of program ``index``: XLA compiles the program once
    more with its module dumped after every pass (once per program, shared with any
    notebook stepper of it; not counted as a compile of the function)."""
    from .rich_display import style_tag

    f = _function(key)
    info, index, entry = _entry(f, index)
    stamp = programs_stamp(info)

    def make():
        from .fusion_stepper import FusionStepper

        # the cache's own Lowered stage: a notebook stepper of this program shares its
        # pass-by-pass compile (fusion_stepper.pass_timeline)
        lowered = entry.lowered if entry.lowered is not None else entry.traced.lower()
        stepper = FusionStepper(lowered, lazy="manual")
        stepper.ensure_built()
        return stepper

    stepper = _remember(_pass_steppers, (key, stamp, index), make)
    if stepper.error is not None:
        raise RuntimeError(
            f"the pass stepper failed: {stepper.error.kind}: {stepper.error.message}"
        )
    stepper.show_unchanged = bool(unchanged)
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, int):
            raise TypeError(f"step must be an integer, got {type(step).__name__}")
        stepper.go(step)
    current = stepper.current
    return {
        "key": key,
        "name": f.__name__,
        "index": index,
        "stamp": stamp,
        "position": stepper.position,
        "count": len(stepper.visible_steps),
        "unchanged": stepper.show_unchanged,
        "title": current.title if current is not None else "",
        "html": style_tag() + stepper.info.value + getattr(stepper, "page_html", ""),
    }


_MAX_ECHO = 200  # characters of a request's own text ever sent back to the sidebar
_MAX_KEY = 1000  # a function key is "<module>:<qualname>:<id>"; longer is not a key


def _clip(text, limit=_MAX_ECHO):
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _rid(data):
    """The request id to echo: only a short string or an integer, never anything big."""
    rid = data.get("rid") if isinstance(data, dict) else None
    if isinstance(rid, bool) or not isinstance(rid, (str, int)):
        return None
    if isinstance(rid, str) and len(rid) > 64:
        return None
    return rid


def answer(data):
    """The reply to one request from the sidebar (a JSON object with ``request``)."""
    if not isinstance(data, dict):
        return {
            "kind": "error",
            "error": f"a request must be a JSON object, got {type(data).__name__}",
        }
    request = data.get("request")
    if request == "list":
        reply = {"kind": "list", "functions": list_functions()}
    elif request == "detail":
        key = data.get("key")
        if not isinstance(key, str) or len(key) > _MAX_KEY:
            what = f"{len(key)} characters" if isinstance(key, str) else type(key).__name__
            reply = {"kind": "error", "error": f"detail needs a function key ({what} given)"}
        else:
            reply = {"kind": "detail", **detail(key)}
    elif request in ("explorer", "passes"):
        key = data.get("key")
        if not isinstance(key, str) or len(key) > _MAX_KEY:
            what = f"{len(key)} characters" if isinstance(key, str) else type(key).__name__
            reply = {"kind": "error", "error": f"{request} needs a function key ({what} given)"}
        elif request == "explorer":
            reply = {"kind": "explorer", **explorer_view(key, data.get("index"))}
        else:
            view = passes_view(
                key, data.get("index"), data.get("step"), bool(data.get("unchanged"))
            )
            reply = {"kind": "passes", **view}
    else:
        reply = {"kind": "error", "error": f"unknown request {_clip(repr(request))}"}
    rid = _rid(data)
    if rid is not None:
        reply["rid"] = rid
    return reply


def _data(msg):
    """A comm message's payload; anything malformed becomes ``None`` (answered as an error)."""
    content = msg.get("content") if isinstance(msg, dict) else None
    return content.get("data") if isinstance(content, dict) else None


class Inspector:
    """Owns the open comms of one kernel and pushes list updates to them."""

    def __init__(self):
        self.comms = []
        self._last = None

    def on_open(self, comm, open_msg):
        self.comms.append(comm)
        comm.on_msg(lambda msg: self._reply(comm, _data(msg)))
        comm.on_close(lambda msg: self._forget(comm))
        self._reply(comm, _data(open_msg))

    def _reply(self, comm, data):
        try:
            reply = answer(data)
        except Exception as e:  # never let a bad request kill the kernel's comm
            reply = {"kind": "error", "error": _clip(f"{type(e).__name__}: {e}")}
            rid = _rid(data)
            if rid is not None:
                reply["rid"] = rid
        comm.send(reply)
        if reply.get("kind") == "list":
            self._last = reply["functions"]

    def _forget(self, comm):
        if comm in self.comms:
            self.comms.remove(comm)

    def push(self, *_):
        """Sends the list to every open comm if it changed since it was last sent."""
        if not self.comms:
            return
        fns = list_functions()
        if fns == self._last:
            return
        self._last = fns
        for comm in list(self.comms):
            try:
                comm.send({"kind": "list", "functions": fns})
            except Exception:
                self._forget(comm)
