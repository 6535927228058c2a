/**
 * The Glassjax sidebar: the session inspector. It lists the current notebook kernel's
 * jitted functions (through the `glassjax.inspector` comm) and opens one in the main
 * area with its jaxpr and optimized HLO.
 *
 * It uses `app.shell` rather than requiring ILabShell so that it also loads in Notebook 7.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  INotebookTracker,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import {
  IFunctionDetail,
  IFunctionInfo,
  InspectorClient
} from './kernel';

const SIDEBAR_ID = 'glassjax-inspector';

const glassIconSvg =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
  '<g class="jp-icon3" fill="none" stroke="#616161" stroke-width="2">' +
  '<circle cx="10" cy="10" r="6"/><path d="M14.5 14.5 L21 21"/>' +
  '<path d="M7 10h6M10 7v6" stroke-width="1.5"/></g></svg>';

export const glassIcon = new LabIcon({
  name: 'glassjax:inspector',
  svgstr: glassIconSvg
});

function el<K extends keyof HTMLElementTagNameMap>(
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

function formatSeconds(s: number): string {
  return s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(2)} s`;
}

/** A main-area panel for one jitted function: for now its jaxpr and optimized HLO. */
class ProgramPanel extends Widget {
  constructor(key: string, name: string) {
    super();
    this.id = `glassjax-program-${key}`;
    this.addClass('glassjax-ProgramPanel');
    this.title.label = name;
    this.title.caption = `Glassjax: the programs of ${name}`;
    this.title.icon = glassIcon;
    this.title.closable = true;
    this.node.tabIndex = -1;
    this.node.appendChild(el('div', 'glassjax-status', 'Asking the kernel…'));
  }

  showDetail(detail: IFunctionDetail): void {
    const node = this.node;
    node.textContent = '';
    node.appendChild(el('h2', 'glassjax-program-name', detail.name));
    if (detail.info) {
      const i = detail.info;
      node.appendChild(
        el(
          'p',
          'glassjax-program-counts',
          `traced ${i.trace_count}× · compiled ${i.compile_count}× · ` +
            `${i.cache_hits} cache hits · compile time ${formatSeconds(i.compile_seconds)}`
        )
      );
    }
    if (detail.programs.length === 0) {
      node.appendChild(
        el('p', 'glassjax-status', 'Not traced yet: call the function first.')
      );
    }
    for (const p of detail.programs) {
      const section = el('section', 'glassjax-program');
      section.appendChild(
        el('h3', 'glassjax-program-signature', `${detail.name}${p.signature}`)
      );
      if (p.device) {
        section.appendChild(el('p', 'glassjax-program-device', `device: ${p.device}`));
      }
      const panes = el('div', 'glassjax-panes');
      panes.appendChild(this._pane('jaxpr', 'glassjax-jaxpr', p.jaxpr));
      panes.appendChild(
        this._pane(
          'optimized HLO',
          'glassjax-hlo',
          p.hlo ?? '(not compiled yet: only traced)'
        )
      );
      section.appendChild(panes);
      node.appendChild(section);
    }
  }

  protected onActivateRequest(msg: Message): void {
    // focus makes this panel the shell's current widget
    this.node.focus();
  }

  showError(message: string): void {
    this.node.textContent = '';
    this.node.appendChild(el('div', 'glassjax-status glassjax-error', message));
  }

  private _pane(title: string, cls: string, text: string): HTMLElement {
    const pane = el('div', 'glassjax-pane');
    pane.appendChild(el('h4', 'glassjax-pane-title', title));
    pane.appendChild(el('pre', `glassjax-code ${cls}`, text));
    return pane;
  }
}

/** The left sidebar panel. */
class InspectorSidebar extends Widget {
  constructor(app: JupyterFrontEnd, tracker: INotebookTracker | null) {
    super();
    this._app = app;
    this._tracker = tracker;
    this.id = SIDEBAR_ID;
    this.addClass('glassjax-Sidebar');
    this.title.icon = glassIcon;
    this.title.caption = 'Glassjax: jitted functions in this kernel';

    const header = el('div', 'glassjax-header');
    header.appendChild(el('span', 'glassjax-title', 'Glassjax programs'));
    const refresh = el('button', 'glassjax-refresh jp-mod-styled', '↻');
    refresh.title = 'Ask the kernel again';
    refresh.onclick = () => void this.refresh(true);
    header.appendChild(refresh);
    this.node.appendChild(header);
    this._source = el('div', 'glassjax-source');
    this.node.appendChild(this._source);
    this._status = el('div', 'glassjax-status');
    this.node.appendChild(this._status);
    this._list = el('ul', 'glassjax-list');
    this.node.appendChild(this._list);

    if (tracker) {
      tracker.currentChanged.connect(() => void this.refresh(true));
      NotebookActions.executed.connect((_, args) => {
        if (!this._client?.isOpen && args.notebook === tracker.currentWidget?.content) {
          void this.refresh(false);
        }
      });
    }
    void this.refresh(true);
  }

  /** Connects to the current notebook's kernel (if needed) and lists its functions. */
  async refresh(reconnect: boolean): Promise<void> {
    const panel: NotebookPanel | null = this._tracker?.currentWidget ?? null;
    if (!panel) {
      this._drop();
      this._source.textContent = '';
      this._setStatus('Open a notebook to see its jitted functions.');
      return;
    }
    this._source.textContent = panel.title.label;
    await panel.sessionContext.ready;
    const kernel = panel.sessionContext.session?.kernel ?? null;
    if (!kernel) {
      this._drop();
      this._setStatus('This notebook has no kernel.');
      return;
    }
    if (this._client && this._client.kernel === kernel && this._client.isOpen) {
      if (reconnect) {
        await this._run(c => c.list());
      }
      return;
    }
    this._drop();
    const client = new InspectorClient(kernel);
    this._client = client;
    client.listChanged.connect((_, fns) => this._showList(fns));
    client.closed.connect(() => {
      if (this._client === client) {
        this._client = null;
        this._showNotLoaded();
      }
    });
    this._setStatus('Connecting to the kernel…');
    try {
      this._showList(await client.connect());
    } catch {
      if (this._client === client) {
        this._client = null;
      }
      this._showNotLoaded();
    }
  }

  private async _run(
    ask: (c: InspectorClient) => Promise<IFunctionInfo[]>
  ): Promise<void> {
    if (!this._client) {
      return;
    }
    try {
      this._showList(await ask(this._client));
    } catch (err) {
      this._setStatus(String((err as Error).message ?? err));
    }
  }

  private _drop(): void {
    if (this._client) {
      const c = this._client;
      this._client = null;
      c.dispose();
    }
    this._list.textContent = '';
  }

  private _showNotLoaded(): void {
    this._list.textContent = '';
    this._setStatus('Run %load_ext notebook_ext in this notebook to inspect it.');
  }

  private _setStatus(text: string): void {
    this._status.textContent = text;
    this._status.hidden = text === '';
  }

  private _showList(fns: IFunctionInfo[]): void {
    this._list.textContent = '';
    this._setStatus(fns.length ? '' : 'No jitted function has run yet.');
    for (const f of fns) {
      const item = el('li', 'glassjax-fn');
      item.dataset.name = f.name;
      item.dataset.key = f.key;
      item.title = `Open ${f.name} in the main area`;
      item.appendChild(el('span', 'glassjax-fn-name', f.name));
      item.appendChild(
        el(
          'span',
          'glassjax-fn-counts',
          `traces ${f.trace_count} · compiles ${f.compile_count} · hits ${f.cache_hits} · ` +
            formatSeconds(f.compile_seconds)
        )
      );
      item.onclick = () => void this._open(f);
      this._list.appendChild(item);
    }
  }

  private async _open(f: IFunctionInfo): Promise<void> {
    const client = this._client;
    if (!client) {
      return;
    }
    let panel = this._panels.get(f.key);
    if (!panel || panel.isDisposed) {
      panel = new ProgramPanel(f.key, f.name);
      this._panels.set(f.key, panel);
      this._app.shell.add(panel, 'main');
    }
    this._app.shell.activateById(panel.id);
    try {
      panel.showDetail(await client.detail(f.key));
    } catch (err) {
      panel.showError(String((err as Error).message ?? err));
    }
  }

  private _app: JupyterFrontEnd;
  private _tracker: INotebookTracker | null;
  private _client: InspectorClient | null = null;
  private _source: HTMLElement;
  private _status: HTMLElement;
  private _list: HTMLElement;
  private _panels = new Map<string, ProgramPanel>();
}

const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'glassjax:inspector',
  description: 'Lists the jitted functions of the current kernel.',
  autoStart: true,
  optional: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker | null) => {
    const sidebar = new InspectorSidebar(app, tracker);
    app.shell.add(sidebar, 'left', { rank: 900 });
    app.commands.addCommand('glassjax:open-inspector', {
      label: 'Show Glassjax programs',
      execute: () => app.shell.activateById(sidebar.id)
    });
  }
};

export default sidebarPlugin;
