/**
 * The browser side of the `glassjax.inspector` comm. The kernel side lives in
 * notebook_ext/inspector.py; it registers the target on `%load_ext notebook_ext`.
 *
 * Requests carry an `rid` that the kernel echoes in its reply. The kernel also pushes
 * a `list` message (without `rid`) after every cell that changed the list.
 */
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

export const COMM_TARGET = 'glassjax.inspector';

export interface IFunctionInfo {
  key: string;
  name: string;
  trace_count: number;
  compile_count: number;
  cache_hits: number;
  compile_seconds: number;
  programs: number;
  /** changes when the cache gains a program (a recompile), not on a cache hit */
  stamp: string;
}

export interface IProgram {
  signature: string;
  device: string;
  jaxpr: string;
  hlo: string | null;
}

export interface IFunctionDetail {
  key: string;
  name: string;
  info: IFunctionInfo | null;
  programs: IProgram[];
  error?: string;
}

/** The explorer's page of one cached program (`index`) of a function. */
export interface IExplorerView {
  key: string;
  name: string;
  index: number;
  signatures: string[];
  compiled: boolean;
  stamp: string;
  graph_layout: string | null;
  html: string;
}

/** One step of the XLA pass stepper of one cached program. */
export interface IPassStep {
  key: string;
  index: number;
  stamp: string;
  position: number;
  count: number;
  unchanged: boolean;
  title: string;
  html: string;
}

const REPLY_TIMEOUT_MS = 10000;
// building an explorer or compiling with a dump after every pass takes longer
const VIEW_TIMEOUT_MS = 180000;

/** One comm to one kernel. `connect()` rejects when the kernel has no such target. */
export class InspectorClient {
  constructor(kernel: Kernel.IKernelConnection) {
    this.kernel = kernel;
    kernel.statusChanged.connect(this._onStatus, this);
  }

  readonly kernel: Kernel.IKernelConnection;

  get listChanged(): ISignal<this, IFunctionInfo[]> {
    return this._listChanged;
  }

  get closed(): ISignal<this, void> {
    return this._closed;
  }

  get isOpen(): boolean {
    return this._comm !== null && !this._comm.isDisposed;
  }

  async connect(): Promise<IFunctionInfo[]> {
    const comm = this.kernel.createComm(COMM_TARGET);
    this._comm = comm;
    comm.onMsg = msg => this._onMsg(msg);
    comm.onClose = () => this._onClose();
    const rid = this._nextRid();
    const reply = this._waitFor(rid);
    comm.open({ request: 'list', rid });
    const content = await reply;
    return content.functions as IFunctionInfo[];
  }

  async list(): Promise<IFunctionInfo[]> {
    const content = await this._request({ request: 'list' });
    return content.functions as IFunctionInfo[];
  }

  async detail(key: string): Promise<IFunctionDetail> {
    const content = await this._request({ request: 'detail', key });
    return content as unknown as IFunctionDetail;
  }

  async explorer(key: string, index: number | null): Promise<IExplorerView> {
    const content = await this._request(
      { request: 'explorer', key, index },
      VIEW_TIMEOUT_MS
    );
    return content as IExplorerView;
  }

  async passes(
    key: string,
    index: number,
    step: number | null,
    unchanged: boolean
  ): Promise<IPassStep> {
    const content = await this._request(
      { request: 'passes', key, index, step, unchanged },
      VIEW_TIMEOUT_MS
    );
    return content as IPassStep;
  }

  dispose(): void {
    this.kernel.statusChanged.disconnect(this._onStatus, this);
    const comm = this._comm;
    this._comm = null;
    if (comm && !comm.isDisposed) {
      try {
        comm.close();
      } catch {
        // the kernel is gone already
      }
    }
    this._failPending('inspector closed');
  }

  private _request(
    data: { [key: string]: string | number | boolean | null },
    timeoutMs: number = REPLY_TIMEOUT_MS
  ): Promise<any> {
    if (!this._comm || this._comm.isDisposed) {
      return Promise.reject(new Error('inspector not connected'));
    }
    const rid = this._nextRid();
    const reply = this._waitFor(rid, timeoutMs);
    this._comm.send({ ...data, rid });
    return reply;
  }

  private _waitFor(rid: string, timeoutMs: number = REPLY_TIMEOUT_MS): Promise<any> {
    return new Promise((resolve, reject) => {
      const timer = window.setTimeout(() => {
        this._pending.delete(rid);
        reject(new Error('the kernel did not answer (is it busy?)'));
      }, timeoutMs);
      this._pending.set(rid, { resolve, reject, timer });
    });
  }

  private _onMsg(msg: KernelMessage.ICommMsgMsg): void {
    const data = msg.content.data as any;
    const rid = data?.rid as string | undefined;
    if (rid && this._pending.has(rid)) {
      const p = this._pending.get(rid)!;
      this._pending.delete(rid);
      window.clearTimeout(p.timer);
      if (data.kind === 'error') {
        p.reject(new Error(data.error));
      } else {
        p.resolve(data);
      }
    } else if (data?.kind === 'list') {
      this._listChanged.emit(data.functions as IFunctionInfo[]);
    }
  }

  // A restart forgets the comm target (and JupyterLab disposes the comm silently).
  private _onStatus(_: Kernel.IKernelConnection, status: Kernel.Status): void {
    if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
      this._onClose();
    }
  }

  private _onClose(): void {
    this._comm = null;
    this._failPending(
      'the kernel has no glassjax inspector: run %load_ext notebook_ext'
    );
    this._closed.emit();
  }

  private _failPending(reason: string): void {
    for (const p of this._pending.values()) {
      window.clearTimeout(p.timer);
      p.reject(new Error(reason));
    }
    this._pending.clear();
  }

  private _nextRid(): string {
    this._rid += 1;
    return String(this._rid);
  }

  private _comm: Kernel.IComm | null = null;
  private _rid = 0;
  private _pending = new Map<
    string,
    { resolve: (v: any) => void; reject: (e: Error) => void; timer: number }
  >();
  private _listChanged = new Signal<this, IFunctionInfo[]>(this);
  private _closed = new Signal<this, void>(this);
}
