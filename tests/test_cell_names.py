"""A function defined in a notebook cell shows in the explorer's Source pane as the cell
("In [N]"), not as IPython's temporary file; the path stays in the tooltip and in the
links (issue 13 item 9)."""

import html

import engine
import engine.numpy as enp
from visualize.cells import cell_label, display_name


def test_explorer_source_pane_names_the_cell():
    from IPython.core.interactiveshell import InteractiveShell

    from visualize.render_html import source_html, stages_html

    ip = InteractiveShell.instance()
    ip.user_ns.update(enp=enp, engine=engine)
    assert ip.run_cell("def in_cell(x):\n    return enp.sin(x) * 2\n", store_history=True).success
    n = ip.execution_count - 1
    fn = ip.user_ns["in_cell"]
    tmp = fn.__code__.co_filename
    assert cell_label(tmp) == f"In [{n}]" and display_name(tmp) == f"In [{n}]"
    import visualize

    for page in (source_html(fn), stages_html(visualize.stage_models(fn, enp.ones(3)))):
        assert f">In [{n}]</summary>" in page
        assert f'title="{html.escape(tmp)}"' in page  # the real path, on hover


def test_other_files_keep_their_path():
    assert cell_label(__file__) == "" and display_name(__file__) == __file__
    assert cell_label(None) == "" and cell_label("") == ""
