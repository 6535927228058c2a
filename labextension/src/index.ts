/**
 * The Glassjax sidebar: the session inspector. It lists the current notebook kernel's
 * jitted functions (through the `glassjax.inspector` comm) and opens one in the main
 * area as the full explorer (explorer.ts), which follows the function's recompiles.
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
import { Widget } from '@lumino/widgets';

import { ExplorerPanel } from './explorer';
import { IFunctionInfo, InspectorClient } from './kernel';
import { addToMainArea, el, formatSeconds, glassIcon, showWidget } from './util';

export { glassIcon };

const SIDEBAR_ID = 'glassjax-inspector';

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
      // (an open explorer panel follows its function through a comm of its own)
    }
  }

  private async _open(f: IFunctionInfo): Promise<void> {
    if (!this._client) {
      return;
    }
    // keys are per kernel ("f1" in two notebooks are two functions); a restarted
    // kernel keeps its id, and its key may then name another function
    const kernel = this._client.kernel;
    const id = `${kernel.id}/${f.key}`;
    let panel = this._panels.get(id);
    if (panel && !panel.isDisposed && panel.functionName !== f.name) {
      panel.dispose();
    }
    if (!panel || panel.isDisposed) {
      panel = new ExplorerPanel(this._app, f.key, f.name, kernel);
      this._panels.set(id, panel);
      addToMainArea(this._app, panel);
    } else {
      showWidget(this._app, panel);
    }
    await panel.load();
  }

  private _app: JupyterFrontEnd;
  private _tracker: INotebookTracker | null;
  private _client: InspectorClient | null = null;
  private _source: HTMLElement;
  private _status: HTMLElement;
  private _list: HTMLElement;
  private _panels = new Map<string, ExplorerPanel>();
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
