// The app shell: header, theme, and the router that builds each view from
// its URL. Every view is rebuilt from the URL; nothing else is kept.

import './styles.css';

import { API } from './api';
import { h, replace } from './dom';
import { GraphPage } from './graph/page';
import type { Host } from './graph/page';
import { parseState } from './graph/state';
import { route } from './route';

type Theme = 'light' | 'dark';

function initialTheme(): Theme {
  const saved = localStorage.getItem('meshlens-theme');
  if (saved === 'light' || saved === 'dark') return saved;
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

class App {
  private readonly base = new URL(document.baseURI);
  private readonly api = new API(this.base.href);
  private readonly main = h('main', { id: 'main' });
  private theme: Theme = initialTheme();
  private view: { destroy(): void; retheme?(): void } | undefined;

  start(): void {
    document.documentElement.dataset.theme = this.theme;
    const themeButton = h('button', { type: 'button', class: 'theme', 'data-test': 'theme', 'aria-label': 'switch theme', onclick: () => this.toggleTheme(themeButton) }, this.theme === 'dark' ? '☀' : '☾');
    const header = h(
      'header',
      { class: 'masthead' },
      h('a', { class: 'brand', href: this.href('graph') }, 'meshlens'),
      h('nav', {}, h('a', { href: this.href('graph'), 'data-nav': 'graph' }, 'Traffic graph')),
      h('span', { class: 'spacer' }),
      themeButton,
    );
    replace(document.body, header, this.main);
    document.addEventListener('click', (e) => this.onClick(e));
    window.addEventListener('popstate', () => this.render());
    this.render();
  }

  private toggleTheme(button: HTMLButtonElement): void {
    this.theme = this.theme === 'dark' ? 'light' : 'dark';
    localStorage.setItem('meshlens-theme', this.theme);
    document.documentElement.dataset.theme = this.theme;
    button.textContent = this.theme === 'dark' ? '☀' : '☾';
    this.view?.retheme?.();
  }

  /** A page URL under the console's base. */
  href(path: string, query?: URLSearchParams): string {
    const u = new URL(path, this.base);
    if (query && [...query].length) u.search = query.toString();
    return u.pathname + u.search;
  }

  private onClick(e: MouseEvent): void {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as HTMLElement | null)?.closest('a');
    if (!a || a.target || a.hasAttribute('download')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !url.pathname.startsWith(this.base.pathname) || url.pathname.startsWith(`${this.base.pathname}api/`)) return;
    e.preventDefault();
    history.pushState(null, '', url.pathname + url.search);
    this.render();
  }

  private render(): void {
    this.view?.destroy();
    this.view = undefined;
    const path = location.pathname.startsWith(this.base.pathname) ? location.pathname.slice(this.base.pathname.length) : location.pathname;
    const r = route(path);
    for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) a.toggleAttribute('aria-current', a.dataset.nav === r.name);
    switch (r.name) {
      case 'home':
        history.replaceState(null, '', this.href('graph', new URLSearchParams(location.search)));
        this.render();
        return;
      case 'graph': {
        const state = parseState(new URLSearchParams(location.search));
        if (r.node) state.namespaces = [r.node.namespace];
        const host: Host = {
          api: this.api,
          href: (p, q) => this.href(p, q),
          setQuery: (q) => history.replaceState(null, '', `${location.pathname}${[...q].length ? `?${q}` : ''}`),
          theme: () => this.theme,
        };
        const page = new GraphPage(host, state, r.node);
        replace(this.main, page.root);
        this.view = page;
        document.title = r.node ? `${r.node.name} · graph · meshlens` : 'Traffic graph · meshlens';
        return;
      }
      case 'details': {
        const n = r.node!;
        replace(
          this.main,
          h(
            'section',
            { class: 'placeholder', 'data-test': 'details' },
            h('h2', {}, `${n.name} (${n.kind.replace(/s$/, '')} in ${n.namespace})`),
            h('p', {}, 'Details pages (overview, metrics charts, Istio config) are not built yet. Meanwhile:'),
            h(
              'ul',
              {},
              h('li', {}, h('a', { href: this.href(`namespaces/${n.namespace}/${n.kind}/${n.name}/graph`) }, 'its node graph')),
              h('li', {}, h('a', { href: this.href(`api/namespaces/${n.namespace}/${n.kind}/${n.name}/health`) }, 'its health (JSON)')),
              h('li', {}, h('a', { href: this.href(`api/namespaces/${n.namespace}/${n.kind}/${n.name}/metrics`) }, 'its metrics (JSON)')),
            ),
          ),
        );
        document.title = `${n.name} · meshlens`;
        return;
      }
      default:
        replace(
          this.main,
          h('section', { class: 'placeholder', 'data-test': 'not-found' }, h('h2', {}, 'No such page'), h('p', {}, `meshlens has no page at /${path}. `, h('a', { href: this.href('graph') }, 'Go to the traffic graph'), '.')),
        );
        document.title = 'Not found · meshlens';
    }
  }
}

new App().start();
