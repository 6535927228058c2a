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


def short_name(filename: str) -> str:
    """The cell's label, or the file's base name (where space is short: tables)."""
    return cell_label(filename) or str(filename).rsplit("/", 1)[-1]


def location(filename: str, line: int | None, column: int | None = None) -> str:
    """Where a line is, in the one wording every view uses: ``"In [5], line 3"``
    (``", column 7"`` when known) for a notebook cell, ``"path/to/file.py:3"``
    (``":7"``) for any other file."""
    label = cell_label(filename)
    if label:
        where = f"{label}, line {line}"
        return where + (f", column {column}" if column is not None else "")
    where = f"{filename}:{line}"
    return where + (f":{column}" if column is not None else "")


def short_location(filename: str, line: int | None) -> str:
    """``location`` with a file's base name instead of its path (``"f.py:3"``)."""
    label = cell_label(filename)
    if label:
        return f"{label}, line {line}"
    return f"{short_name(filename)}:{line}"
