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
    """The jitted functions the user's code has run or traced, oldest first."""
    fns = [
        f
        for f in engine.all_jitted()
        if f.trace_count and not _is_internal(f) and not getattr(f, "_glassjax_tool", False)
    ]  # jits made by our own widgets
    return sorted(fns, key=lambda f: int(_key(f)[1:]))


def function_info(f):
    return {
        "key": _key(f),
        "name": f.__name__,
        "trace_count": f.trace_count,
        "compile_count": f.compile_count,
        "cache_hits": f.cache_hits,
        "compile_seconds": round(float(getattr(f, "compile_seconds", 0.0)), 6),
        "programs": len(getattr(f, "_trace_cache", {})),
    }


def list_functions():
    return [function_info(f) for f in user_jitted()]


def _signature(avals):
    return "(" + ", ".join(a.str_short() for a in avals) + ")"


def programs(f):
    """One entry per traced signature: its jaxpr text and, once compiled, XLA's
    optimized HLO. Reads the jitted function's caches (no re-tracing, no compiling)."""
    traces = dict(getattr(f, "_trace_cache", {}))
    compiled = {}
    for key, entry in list(getattr(f, "_exe_cache", {}).items()):
        compiled.setdefault(key[:3], entry)
    out = []
    for key, (closed, _out_tree) in traces.items():
        entry = compiled.get(key)
        out.append(
            {
                "signature": _signature(key[2]),
                "device": str(entry.device) if entry is not None else "",
                "jaxpr": str(closed),
                "hlo": entry.exe.hlo_text() if entry is not None else None,
            }
        )
    return out


def detail(key):
    for f in user_jitted():
        if _key(f) == key:
            return {
                "key": key,
                "name": f.__name__,
                "info": function_info(f),
                "programs": programs(f),
            }
    return {
        "key": key,
        "name": "?",
        "info": None,
        "programs": [],
        "error": "this function is gone (the kernel forgot it)",
    }


def answer(data):
    """The reply to one request from the sidebar."""
    request = (data or {}).get("request")
    if request == "list":
        reply = {"kind": "list", "functions": list_functions()}
    elif request == "detail":
        reply = {"kind": "detail", **detail(str(data.get("key")))}
    else:
        reply = {"kind": "error", "error": f"unknown request {request!r}"}
    if "rid" in data:
        reply["rid"] = data["rid"]
    return reply


class Inspector:
    """Owns the open comms of one kernel and pushes list updates to them."""

    def __init__(self):
        self.comms = []
        self._last = None

    def on_open(self, comm, open_msg):
        self.comms.append(comm)
        comm.on_msg(lambda msg: self._reply(comm, msg["content"]["data"]))
        comm.on_close(lambda msg: self._forget(comm))
        self._reply(comm, open_msg["content"]["data"])

    def _reply(self, comm, data):
        try:
            reply = answer(data)
        except Exception as e:  # never let a bad request kill the kernel's comm
            reply = {
                "kind": "error",
                "error": f"{type(e).__name__}: {e}",
                "rid": (data or {}).get("rid"),
            }
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
