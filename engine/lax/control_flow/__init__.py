"""Structured control flow: ``cond``/``switch``, ``while_loop``/``fori_loop`` and ``scan``.

Each takes Python functions, traces them to jaxprs (the primitive's parameters), and
its rules transform those jaxprs: JVP, partial evaluation (so ``grad`` works through
``cond`` and ``scan``), transposition, batching and lowering to StableHLO's
``case``/``while``. One module per primitive, its rules beside it; ``common`` holds
what they share."""

from .cond_switch import cond, cond_p, switch
from .scan_map import map, scan, scan_p
from .while_fori import fori_loop, while_loop, while_p

__all__ = [
    "cond",
    "switch",
    "while_loop",
    "fori_loop",
    "scan",
    "map",
    "cond_p",
    "while_p",
    "scan_p",
]
