/**
 * The Strom web UI: a single-page app routed by URL hash — `#/library`, `#/upload`,
 * `#/watch/<id>`, `#/live`, `#/live/<id>`, `#/dashboard`, `#/signin`. Each page renders into
 * `<main>` and gets an AbortSignal that fires when the user navigates away, which stops its
 * timers, event stream and player. `#token=<jwt>` (printed by scripts/demo.sh) signs in once and
 * is removed from the address bar at once.
 */
import { getToken, setToken } from './api.js';
import { h } from './dom.js';
import { libraryPage } from './pages/library.js';
import { uploadPage } from './pages/upload.js';
import { watchPage } from './pages/watch.js';
import { liveListPage, livePage } from './pages/live.js';
import { dashboardPage } from './pages/dashboard.js';
import { signinPage } from './pages/signin.js';

/** A page: render into `main`; clean up when `signal` aborts. */
export type PageFn = (main: HTMLElement, signal: AbortSignal, arg: string) => void | Promise<void>;

const routes: Record<string, PageFn> = {
  library: libraryPage,
  upload: uploadPage,
  watch: watchPage,
  live: (main, signal, arg) => (arg ? livePage(main, signal, arg) : liveListPage(main, signal)),
  dashboard: dashboardPage,
  signin: signinPage,
};

let current: AbortController | null = null;

function consumeTokenFragment(): void {
  const m = /^#token=([A-Za-z0-9._-]+)/.exec(location.hash);
  if (!m?.[1]) return;
  setToken(m[1]);
  history.replaceState(null, '', location.pathname + location.search + '#/library');
}

async function render(): Promise<void> {
  consumeTokenFragment();
  const [, name = 'library', ...rest] = location.hash.replace(/^#/, '').split('/');
  let page = routes[name] ?? routes.library!;
  if (!getToken() && name !== 'signin') page = signinPage;
  current?.abort();
  const ctl = new AbortController();
  current = ctl;
  const main = document.getElementById('main')!;
  main.replaceChildren();
  main.dataset.page = page === signinPage ? 'signin' : name;
  for (const a of document.querySelectorAll<HTMLAnchorElement>('#nav a')) {
    if (a.getAttribute('href') === `#/${name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.getElementById('signout')!.hidden = !getToken();
  try {
    await page(main, ctl.signal, decodeURIComponent(rest.join('/')));
  } catch (err) {
    if (ctl.signal.aborted) return;
    main.replaceChildren(h('h1', {}, 'Something went wrong'), h('p', { role: 'alert', class: 'error' }, String((err as Error).message ?? err)));
  }
  // Move focus to the new content for keyboard and screen-reader users (not on the first load).
  if (document.activeElement && document.activeElement !== document.body) main.focus({ preventScroll: true });
}

document.getElementById('signout')!.addEventListener('click', () => {
  setToken(null);
  location.hash = '#/signin';
});
window.addEventListener('hashchange', () => void render());
void render();
