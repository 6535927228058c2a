/**
 * The explorer in JupyterLab's main area: what the sidebar opens for one jitted
 * function. Every pane of notebook_ext's explorer (Source, jaxpr, StableHLO, HLO,
 * optimized HLO, fusion graph, executable), linked, for one cached program, plus the
 * XLA pass stepper and the programs as text. It stays live: the sidebar hands it every
 * list the kernel pushes, and a new `stamp` (the cache gained a program) reloads it.
 * Each pane can be popped out into its own panel beside the explorer; clicks in a
 * popped-out pane still light up its partners in the others.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Kernel } from '@jupyterlab/services';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import {
  IExplorerView,
  IFunctionDetail,
  IFunctionInfo,
  InspectorClient
} from './kernel';
import {
  addToMainArea,
  el,
  formatSeconds,
  glassIcon,
  setViewHtml,
  showWidget
} from './util';

// what the pane linker (visualize/static/linker.js) links, by attribute
const LINKED = '[data-line],[data-eqn],[data-mlir],[data-hlo],[data-hlo-opt]';
const NEWEST = 'newest';
const LAYOUTS: [string, string][] = [
  ['auto', 'auto'],
  ['side', 'side by side'],
  ['tabs', 'tabs']
];

/** The linker object that linker.js keeps on its root element. */
interface ILinker {
  select(el: Element): void;
  hover(el: Element | null): void;
  action(btn: Element): void;
  follow(ref: Element): void;
}

function linkerOf(root: Element | null): ILinker | null {
  return ((root as any)?.__gjLinker as ILinker | undefined) ?? null;
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

/** A main-area panel holding one pane popped out of an explorer. */
export class PanePanel extends Widget {
  constructor(explorer: ExplorerPanel, label: string) {
    super();
    this._explorer = explorer;
    this.label = label;
    this.id = `${explorer.id}-pane-${slug(label)}`;
    this.addClass('glassjax-PanePanel');
    this.title.label = `${explorer.functionName}: ${label}`;
    this.title.caption = `Glassjax: the ${label} pane of ${explorer.functionName}`;
    this.title.icon = glassIcon;
    this.title.closable = true;
    this.node.dataset.pane = label;
    // `gj-root` gives the pane the explorer's colours and styles
    this._box = el('div', 'gj-root glassjax-popout-root');
    this.node.appendChild(this._box);
    this._box.addEventListener('click', ev => this._onClick(ev));
    this._box.addEventListener('mouseover', ev => this._onHover(ev));
    this._box.addEventListener('mouseleave', () => this._linker()?.hover(null));
  }

  readonly label: string;

  /** Shows `pane` (moved out of the explorer whose linker root is `root`). */
  adopt(pane: HTMLElement | null, root: Element | null): void {
    this._root = root;
    this._box.textContent = '';
    this._pane = pane;
    if (pane) {
      this._box.appendChild(pane);
    } else {
      this._box.appendChild(
        el('div', 'glassjax-status', `This program has no ${this.label} pane.`)
      );
    }
  }

  /** Gives the pane back (the explorer puts it where its placeholder is). */
  takePane(): HTMLElement | null {
    const pane = this._pane;
    this._pane = null;
    return pane;
  }

  protected onCloseRequest(msg: Message): void {
    this._explorer.paneClosed(this);
    super.onCloseRequest(msg);
    this.dispose();
  }

  private _linker(): ILinker | null {
    return linkerOf(this._root);
  }

  // the linker listens on its root, which the pane has left: forward to it
  private _onClick(ev: MouseEvent): void {
    const t = ev.target;
    const linker = this._linker();
    if (!(t instanceof Element) || !linker) {
      return;
    }
    const btn = t.closest('[data-gj-act]');
    if (btn) {
      linker.action(btn);
      return;
    }
    const ref = t.closest('a.gj-ref');
    if (ref) {
      ev.preventDefault();
      linker.follow(ref);
      return;
    }
    if (t.closest('.gj-tog, button')) {
      return;
    }
    const target = t.closest(LINKED);
    if (target) {
      if (t.closest('summary')) {
        ev.preventDefault();
      }
      linker.select(target);
    }
  }

  private _onHover(ev: MouseEvent): void {
    const t = ev.target instanceof Element ? ev.target : null;
    this._linker()?.hover(t?.closest(LINKED) ?? null);
  }

  private _explorer: ExplorerPanel;
  private _box: HTMLElement;
  private _pane: HTMLElement | null = null;
  private _root: Element | null = null;
}

/**
 * The main-area explorer of one jitted function. It talks to the kernel it was opened
 * from through a comm of its own, so it keeps following that kernel's function when
 * the sidebar moves on to another notebook.
 */
export class ExplorerPanel extends Widget {
  constructor(
    app: JupyterFrontEnd,
    key: string,
    name: string,
    kernel: Kernel.IKernelConnection
  ) {
    super();
    this._app = app;
    this._kernel = kernel;
    this.key = key;
    this.functionName = name;
    this.id = `glassjax-program-${kernel.id}-${key}`;
    this.addClass('glassjax-ProgramPanel');
    this.addClass('glassjax-ExplorerPanel');
    this.title.label = name;
    this.title.caption = `Glassjax: the programs of ${name}`;
    this.title.icon = glassIcon;
    this.title.closable = true;
    this.node.tabIndex = -1;
    this.node.dataset.state = 'loading';

    const head = el('div', 'glassjax-explorer-head');
    head.appendChild(el('h2', 'glassjax-program-name', name));
    this._counts = el('span', 'glassjax-program-counts');
    head.appendChild(this._counts);
    const tools = el('div', 'glassjax-explorer-tools');
    this._programSelect = el('select', 'glassjax-program-select');
    this._programSelect.title = 'Which cached program to explore';
    this._programSelect.onchange = () => {
      const v = this._programSelect.value;
      this._pinned = v === NEWEST ? null : Number(v);
      void this.load();
    };
    tools.appendChild(this._programSelect);
    this._layoutSelect = el('select', 'glassjax-layout-select');
    this._layoutSelect.title = 'Panes side by side, or one at a time in tabs';
    for (const [value, label] of LAYOUTS) {
      const option = el('option', '', label);
      option.value = value;
      this._layoutSelect.appendChild(option);
    }
    this._layoutSelect.onchange = () => this._applyLayout();
    tools.appendChild(this._layoutSelect);
    const reload = el('button', 'glassjax-reload jp-mod-styled', '↻');
    reload.title = 'Ask the kernel again';
    reload.onclick = () => void this.load();
    tools.appendChild(reload);
    head.appendChild(tools);
    this.node.appendChild(head);

    this._status = el('div', 'glassjax-status', 'Asking the kernel…');
    this.node.appendChild(this._status);
    this._body = el('div', 'glassjax-explorer-body');
    this.node.appendChild(this._body);
    this._passes = new PassStepperSection(this);
    this.node.appendChild(this._passes.node);
    this._text = el('details', 'glassjax-programs-text');
    this._text.open = true;
    this.node.appendChild(this._text);
  }

  readonly key: string;
  readonly functionName: string;

  /** This panel's comm to its kernel (null until connected, or once closed). */
  get client(): InspectorClient | null {
    return this._own?.isOpen ? this._own : null;
  }

  /** The kernel this panel shows a function of. */
  get kernel(): Kernel.IKernelConnection {
    return this._kernel;
  }

  /** The program shown (its index in the function's cache). */
  get programIndex(): number | null {
    return this._view?.index ?? null;
  }

  get stamp(): string {
    return this._view?.stamp ?? '';
  }

  /** A list row from the kernel: new counts, and a reload if the programs changed. */
  listed(info: IFunctionInfo): void {
    // keys are per kernel: after a restart the same key may name another function
    if (info.key !== this.key || info.name !== this.functionName) {
      return;
    }
    this._showCounts(info);
    this._listedStamp = info.stamp;
    if (this._view && info.stamp !== this._view.stamp && !this._loading) {
      void this.load();
    }
  }

  /** Fetches the function's programs and the explorer of the chosen one. */
  async load(): Promise<void> {
    this._loading = true;
    this.node.dataset.state = 'loading';
    this._setStatus(this._view ? 'Updating…' : 'Asking the kernel…');
    try {
      const client = await this._connect();
      const detail = await client.detail(this.key);
      if (detail.error) {
        throw new Error(detail.error);
      }
      if (detail.name !== this.functionName) {
        // a restarted kernel numbers its functions afresh
        throw new Error(
          `The kernel restarted: ${this.functionName} is gone from it. ` +
            'Run it again and open it from the sidebar.'
        );
      }
      this._showDetail(detail);
      const pinned =
        this._pinned !== null && this._pinned < detail.programs.length
          ? this._pinned
          : null;
      if (detail.programs.length === 0) {
        this._setStatus('Not traced yet: call the function first.');
        this.node.dataset.state = 'ready';
        return;
      }
      const view = await client.explorer(this.key, pinned);
      this._showView(view);
      this._setStatus('');
      this.node.dataset.state = 'ready';
    } catch (err) {
      this._showError(String((err as Error).message ?? err));
    } finally {
      this._loading = false;
    }
    // a recompile announced while this load was under way
    const view = this._view;
    if (view && this._listedStamp && this._listedStamp !== view.stamp) {
      this._listedStamp = '';
      void this.load();
    }
  }

  /** Moves a pane (by its title) into its own panel to the right of the explorer. */
  popOut(label: string): PanePanel | null {
    let panel = this._popouts.get(label);
    if (panel && !panel.isDisposed) {
      showWidget(this._app, panel);
      return panel;
    }
    const pane = this._findPane(label);
    if (!pane) {
      return null;
    }
    panel = new PanePanel(this, label);
    this._popouts.set(label, panel);
    panel.adopt(this._detach(pane, label), this._linkerRoot());
    addToMainArea(this._app, panel, { mode: 'split-right', ref: this.id });
    return panel;
  }

  /** A popped-out pane's panel closes: its pane comes back to its place. */
  paneClosed(panel: PanePanel): void {
    if (this._popouts.get(panel.label) !== panel) {
      return;
    }
    this._popouts.delete(panel.label);
    const pane = panel.takePane();
    const holder = this._placeholder(panel.label);
    if (holder && pane) {
      holder.replaceWith(pane);
    } else {
      holder?.remove();
    }
  }

  protected onActivateRequest(msg: Message): void {
    // focus makes this panel the shell's current widget
    this.node.focus();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    for (const panel of this._popouts.values()) {
      panel.dispose();
    }
    this._popouts.clear();
    this._own?.dispose();
    this._own = null;
    super.dispose();
  }

  /** This panel's comm to its kernel, opened on first use and again after a restart. */
  private async _connect(): Promise<InspectorClient> {
    if (this._own?.isOpen) {
      return this._own;
    }
    if (this._kernel.isDisposed) {
      throw new Error("This function's kernel is gone: open it again from the sidebar.");
    }
    const client = new InspectorClient(this._kernel);
    this._own = client;
    client.listChanged.connect((_, fns) => {
      const info = fns.find(f => f.key === this.key);
      if (info) {
        this.listed(info);
      }
    });
    client.closed.connect(() => {
      if (this._own === client) {
        this._own = null;
      }
    });
    try {
      await client.connect();
    } catch {
      client.dispose();
      if (this._own === client) {
        this._own = null;
      }
      throw new Error('The kernel has no glassjax inspector: run %load_ext notebook_ext.');
    }
    return client;
  }

  private _showCounts(i: IFunctionInfo): void {
    this._counts.textContent =
      `traced ${i.trace_count}× · compiled ${i.compile_count}× · ` +
      `${i.cache_hits} cache hits · compile time ${formatSeconds(i.compile_seconds)}`;
  }

  private _showDetail(detail: IFunctionDetail): void {
    if (detail.info) {
      this._showCounts(detail.info);
    }
    const select = this._programSelect;
    select.textContent = '';
    const newest = el('option', '', 'newest program (follows recompiles)');
    newest.value = NEWEST;
    select.appendChild(newest);
    detail.programs.forEach((p, i) => {
      const option = el('option', '', `program ${i + 1}: ${detail.name}${p.signature}`);
      option.value = String(i);
      select.appendChild(option);
    });
    select.value = this._pinned === null ? NEWEST : String(this._pinned);

    const text = this._text;
    text.textContent = '';
    text.appendChild(
      el('summary', 'glassjax-programs-summary', 'Every cached program as text')
    );
    for (const p of detail.programs) {
      const section = el('section', 'glassjax-program');
      section.appendChild(
        el('h3', 'glassjax-program-signature', `${detail.name}${p.signature}`)
      );
      if (p.device) {
        section.appendChild(el('p', 'glassjax-program-device', `device: ${p.device}`));
      }
      const panes = el('div', 'glassjax-panes');
      panes.appendChild(textPane('jaxpr', 'glassjax-jaxpr', p.jaxpr));
      panes.appendChild(
        textPane('optimized HLO', 'glassjax-hlo', p.hlo ?? '(not compiled yet: only traced)')
      );
      section.appendChild(panes);
      text.appendChild(section);
    }
  }

  private _showView(view: IExplorerView): void {
    const changed = this._view !== null && this._view.stamp !== view.stamp;
    this._view = view;
    this.node.dataset.stamp = view.stamp;
    this.node.dataset.program = String(view.index);
    const signature = view.signatures[view.index] ?? '';
    this.node.dataset.signature = signature;
    this._body.textContent = '';
    const shown = el(
      'div',
      'glassjax-shown-program',
      `program ${view.index + 1} of ${view.signatures.length}: ${view.name}${signature}` +
        (view.compiled ? '' : ' (not compiled yet: only traced)')
    );
    this._body.appendChild(shown);
    const host = el('div', 'glassjax-explorer-host');
    this._body.appendChild(host);
    setViewHtml(host, view.html);
    this._applyLayout();
    for (const pane of this._panes()) {
      const label = pane.getAttribute('aria-label') ?? '';
      const head = pane.querySelector(':scope > .gj-pane-head');
      if (!label || !head) {
        continue;
      }
      const button = el('button', 'gj-btn glassjax-popout-button', 'pop out');
      button.type = 'button';
      button.dataset.pane = label;
      button.title = `Open the ${label} pane in its own panel beside the explorer`;
      button.onclick = ev => {
        ev.stopPropagation();
        this.popOut(label);
      };
      head.appendChild(button);
    }
    // popped-out panes follow the new program
    for (const [label, panel] of this._popouts) {
      const pane = this._findPane(label);
      panel.adopt(pane ? this._detach(pane, label) : null, this._linkerRoot());
    }
    this._passes.programChanged(view, changed);
  }

  private _applyLayout(): void {
    const page = this._body.querySelector('.gjx-explorer');
    if (!page) {
      return;
    }
    for (const [value] of LAYOUTS) {
      page.classList.toggle(`gjx-layout-${value}`, value === this._layoutSelect.value);
    }
  }

  private _panes(): HTMLElement[] {
    return Array.from(
      this._body.querySelectorAll<HTMLElement>('.gjx-explorer .gj-panes > .gj-pane[data-kind]')
    );
  }

  private _findPane(label: string): HTMLElement | null {
    return this._panes().find(p => p.getAttribute('aria-label') === label) ?? null;
  }

  private _placeholder(label: string): HTMLElement | null {
    return (
      Array.from(this._body.querySelectorAll<HTMLElement>('.glassjax-popped')).find(
        p => p.dataset.pane === label
      ) ?? null
    );
  }

  private _linkerRoot(): Element | null {
    return this._body.querySelector('.gjx-explorer .gj-root');
  }

  /** Puts a placeholder (with a way back) where the pane was; returns the pane. */
  private _detach(pane: HTMLElement, label: string): HTMLElement {
    const holder = el('section', 'gj-pane glassjax-popped');
    holder.dataset.pane = label;
    const head = el('div', 'gj-pane-head');
    head.appendChild(el('span', 'gj-pane-title', label));
    head.appendChild(el('span', 'gj-pane-sub', 'in its own panel'));
    const back = el('button', 'gj-btn glassjax-popin-button', 'bring back');
    back.type = 'button';
    back.onclick = ev => {
      ev.stopPropagation();
      this._popouts.get(label)?.close();
    };
    head.appendChild(back);
    holder.appendChild(head);
    pane.replaceWith(holder);
    return pane;
  }

  private _setStatus(text: string): void {
    this._status.textContent = text;
    this._status.classList.remove('glassjax-error');
    this._status.hidden = text === '';
  }

  private _showError(message: string): void {
    this._setStatus(message);
    this._status.classList.add('glassjax-error');
    this.node.dataset.state = 'error';
  }

  private _app: JupyterFrontEnd;
  private _kernel: Kernel.IKernelConnection;
  private _own: InspectorClient | null = null;
  private _counts: HTMLElement;
  private _programSelect: HTMLSelectElement;
  private _layoutSelect: HTMLSelectElement;
  private _status: HTMLElement;
  private _body: HTMLElement;
  private _passes: PassStepperSection;
  private _text: HTMLDetailsElement;
  private _view: IExplorerView | null = null;
  private _pinned: number | null = null;
  private _loading = false;
  private _listedStamp = '';
  private _popouts = new Map<string, PanePanel>();
}

function textPane(title: string, cls: string, text: string): HTMLElement {
  const pane = el('div', 'glassjax-pane');
  pane.appendChild(el('h4', 'glassjax-pane-title', title));
  pane.appendChild(el('pre', `glassjax-code ${cls}`, text));
  return pane;
}

/** The XLA pass stepper of the program the explorer shows, stepped through the kernel. */
class PassStepperSection {
  constructor(explorer: ExplorerPanel) {
    this._explorer = explorer;
    const node = (this.node = el('section', 'glassjax-passes'));
    const head = el('div', 'glassjax-passes-head');
    head.appendChild(el('h3', 'glassjax-passes-title', 'XLA passes'));
    this._start = el('button', 'glassjax-passes-start jp-mod-styled', 'Step through the passes');
    this._start.title =
      'XLA compiles this program again, keeping the module after every pass';
    this._start.onclick = () => void this._go(0);
    head.appendChild(this._start);
    node.appendChild(head);

    const controls = (this._controls = el('div', 'glassjax-passes-controls'));
    controls.hidden = true;
    this._prev = el('button', 'glassjax-pass-prev jp-mod-styled', '◀ prev');
    this._prev.onclick = () => void this._go(this._position - 1);
    this._slider = el('input', 'glassjax-pass-slider');
    this._slider.type = 'range';
    this._slider.min = '1';
    this._slider.onchange = () => void this._go(Number(this._slider.value) - 1);
    this._next = el('button', 'glassjax-pass-next jp-mod-styled', 'next ▶');
    this._next.onclick = () => void this._go(this._position + 1);
    this._counter = el('span', 'glassjax-pass-count');
    const unchanged = el('label', 'glassjax-pass-unchanged');
    this._unchanged = el('input', '');
    this._unchanged.type = 'checkbox';
    // no step: the kernel's stepper stays on the pass it shows (its index changes)
    this._unchanged.onchange = () => void this._go(null);
    unchanged.appendChild(this._unchanged);
    unchanged.appendChild(document.createTextNode(' show passes that changed nothing'));
    for (const c of [this._prev, this._slider, this._counter, this._next, unchanged]) {
      controls.appendChild(c);
    }
    node.appendChild(controls);
    this._status = el('div', 'glassjax-status');
    this._status.hidden = true;
    node.appendChild(this._status);
    this._view = el('div', 'glassjax-pass-view');
    node.appendChild(this._view);
  }

  readonly node: HTMLElement;

  /** The explorer shows another program: the stepper starts over for it. */
  programChanged(view: IExplorerView, recompiled: boolean): void {
    if (view.index === this._index && view.stamp === this._stamp) {
      return;
    }
    const wasOpen = !this._controls.hidden;
    this._index = view.index;
    this._stamp = view.stamp;
    this._start.hidden = !view.compiled;
    this._controls.hidden = true;
    this._view.textContent = '';
    this._setStatus(
      wasOpen && recompiled
        ? 'The function was recompiled: step through the passes of the new program.'
        : ''
    );
  }

  /** Shows pass `step` (among those shown), or with `null` the current pass again. */
  private async _go(step: number | null): Promise<void> {
    const client = this._explorer.client;
    if (!client || this._index === null) {
      return;
    }
    const ask = ++this._asked;
    this.node.dataset.state = 'loading';
    this._setStatus(
      this._controls.hidden ? 'XLA is compiling with a dump after every pass…' : ''
    );
    try {
      const reply = await client.passes(
        this._explorer.key,
        this._index,
        step === null ? null : Math.max(0, step),
        this._unchanged.checked
      );
      if (ask !== this._asked) {
        return;
      }
      this._position = reply.position;
      this._slider.max = String(Math.max(1, reply.count));
      this._slider.value = String(reply.position + 1);
      this._counter.textContent = `${reply.position + 1} of ${reply.count}`;
      this._prev.disabled = reply.position <= 0;
      this._next.disabled = reply.position + 1 >= reply.count;
      this._controls.hidden = false;
      this._start.hidden = true;
      setViewHtml(this._view, reply.html);
      this.node.dataset.position = String(reply.position);
      this.node.dataset.state = 'ready';
      this._setStatus('');
    } catch (err) {
      if (ask === this._asked) {
        this._setStatus(String((err as Error).message ?? err));
        this.node.dataset.state = 'error';
      }
    }
  }

  private _setStatus(text: string): void {
    this._status.textContent = text;
    this._status.hidden = text === '';
  }

  private _explorer: ExplorerPanel;
  private _start: HTMLButtonElement;
  private _controls: HTMLElement;
  private _prev: HTMLButtonElement;
  private _next: HTMLButtonElement;
  private _slider: HTMLInputElement;
  private _counter: HTMLElement;
  private _unchanged: HTMLInputElement;
  private _status: HTMLElement;
  private _view: HTMLElement;
  private _index: number | null = null;
  private _stamp = '';
  private _position = 0;
  private _asked = 0;
}
