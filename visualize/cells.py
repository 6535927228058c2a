"""Names of notebook cells: IPython compiles each cell into a temporary file
(``ipykernel_NNNN/987618802.py``); a user knows it as ``In [5]``."""

from __future__ import annotations


def cell_label(filename: str | None) -> str:
    """``"In [5]"`` for the file IPython compiled cell 5 into, through IPython's public
    ``CachingCompiler.format_code_name`` (what its own tracebacks use); "" outside
    IPython or for any other file (the path is shown then)."""
    if not filename:
        return ""
    try:
        from IPython import get_ipython

        ip = get_ipython()
        named = ip.compile.format_code_name(filename) if ip is not None else None
    except Exception:  # noqa: BLE001 - a label is never worth an error
        return ""
    if not named:
        return ""
    name = str(named[1])
    return "In [" + name[3:] if name.startswith("In[") else name


def display_name(filename: str) -> str:
    """What a pane shows for a source file: the cell's label, or the path."""
    return cell_label(filename) or filename
