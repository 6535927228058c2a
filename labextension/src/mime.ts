/**
 * Renders `application/vnd.glassjax.stages+json`: a JSON payload whose `html` key holds
 * HTML built by the kernel (notebook_ext.display). It needs no kernel, so saved
 * notebooks show their stages when reopened.
 *
 * Elements that carry `data-glassjax-link="<id>"` are linked: hovering one highlights
 * every element of the same output with the same id (class `glassjax-linked`).
 */
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

export const MIME_TYPE = 'application/vnd.glassjax.stages+json';

interface IStagesPayload {
  version?: number;
  title?: string;
  html?: string;
}

export class StagesRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this._sanitizer = options.sanitizer;
    this.addClass('glassjax-stages');
    this.node.addEventListener('mouseover', this._onHover);
    this.node.addEventListener('mouseout', this._onHover);
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const payload = (model.data[MIME_TYPE] ?? {}) as IStagesPayload;
    const html = typeof payload.html === 'string' ? payload.html : '';
    // HTML from an untrusted notebook goes through JupyterLab's sanitizer.
    this.node.innerHTML = model.trusted ? html : this._sanitizer.sanitize(html);
    if (!html) {
      this.node.textContent = '(empty glassjax payload)';
    }
    return Promise.resolve();
  }

  private _onHover = (event: MouseEvent): void => {
    const target = (event.target as HTMLElement | null)?.closest?.(
      '[data-glassjax-link]'
    );
    for (const old of Array.from(this.node.querySelectorAll('.glassjax-linked'))) {
      old.classList.remove('glassjax-linked');
    }
    if (event.type !== 'mouseover' || !target) {
      return;
    }
    const id = target.getAttribute('data-glassjax-link');
    for (const node of Array.from(this.node.querySelectorAll('[data-glassjax-link]'))) {
      if (node.getAttribute('data-glassjax-link') === id) {
        node.classList.add('glassjax-linked');
      }
    }
  };

  private _sanitizer: IRenderMime.ISanitizer;
}

export const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [MIME_TYPE],
  createRenderer: options => new StagesRenderer(options)
};

const extension: IRenderMime.IExtension = {
  id: 'glassjax:stages-renderer',
  rendererFactory,
  rank: 0,
  dataType: 'json'
};

export default extension;
