"""The kernel side of the session inspector: what the JupyterLab sidebar lists.

The sidebar opens a comm to the ``glassjax.inspector`` target and sends requests
``{"request": "list" | "detail", "key": ..., "rid": ...}``; each reply echoes ``rid``.
After every cell that changed the list, the kernel also pushes ``{"kind": "list"}`` to
every open inspector comm, so the sidebar follows the notebook without polling.
"""

import inspect
import itertools
import os
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
    }


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
