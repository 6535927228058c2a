/** Small DOM helpers and the Glassjax icon, shared by the sidebar and the panels. */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { LabIcon } from '@jupyterlab/ui-components';
import { SplitPanel, TabPanel, Widget } from '@lumino/widgets';

const glassIconSvg =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
  '<g class="jp-icon3" fill="none" stroke="#616161" stroke-width="2">' +
  '<circle cx="10" cy="10" r="6"/><path d="M14.5 14.5 L21 21"/>' +
  '<path d="M7 10h6M10 7v6" stroke-width="1.5"/></g></svg>';

export const glassIcon = new LabIcon({
  name: 'glassjax:inspector',
  svgstr: glassIconSvg
});

/** An element with a class and (escaped) text. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

export function formatSeconds(s: number): string {
  return s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(2)} s`;
}

/**
 * Puts the kernel's view HTML into `host` and runs its inline scripts (the pane
 * linker, the graph layout and zoom), as JupyterLab does for a trusted HTML output.
 * The HTML is built by notebook_ext in this notebook's own kernel, which escapes
 * every piece of user data in it; data scripts (JSON, text) stay data.
 */
export function setViewHtml(host: HTMLElement, html: string): void {
  host.innerHTML = html;
  for (const old of Array.from(host.querySelectorAll('script'))) {
    const type = (old.getAttribute('type') ?? '').trim().toLowerCase();
    if (type !== '' && type !== 'text/javascript') {
      continue;
    }
    const script = document.createElement('script');
    script.textContent = old.textContent;
    old.replaceWith(script);
  }
}

/**
 * Adds a panel to the main area and shows it. Notebook 7's main area holds the notebook
 * alone (it ignores a second widget): there the panel goes to the area below it, and
 * a pane popped out goes beside the explorer as another tab of that area.
 */
export function addToMainArea(
  app: JupyterFrontEnd,
  widget: Widget,
  options?: Parameters<JupyterFrontEnd.IShell['add']>[2]
): void {
  app.shell.add(widget, 'main', options);
  if (!widget.isAttached) {
    app.shell.add(widget, 'down');
    // that area starts a few pixels high: give it half the page
    let parent = widget.parent;
    while (parent && !(parent instanceof SplitPanel)) {
      parent = parent.parent;
    }
    if (parent instanceof SplitPanel && parent.widgets.length === 2) {
      parent.setRelativeSizes([1, 1]);
    }
  }
  showWidget(app, widget);
}

/** Activates a panel; in Notebook 7's area below the notebook, selects its tab. */
export function showWidget(app: JupyterFrontEnd, widget: Widget): void {
  app.shell.activateById(widget.id);
  let parent = widget.parent;
  while (parent && !(parent instanceof TabPanel)) {
    parent = parent.parent;
  }
  if (parent instanceof TabPanel && parent.currentWidget !== widget) {
    parent.currentWidget = widget;
  }
}
