/** `#/signin`: paste an API token (from `strom token create` or scripts/demo.sh); it is checked, then stored. */
import { api, ApiError, setToken } from '../api.js';
import { h } from '../dom.js';

/** Render the sign-in form. */
export function signinPage(main: HTMLElement): void {
  const input = h('textarea', { id: 'token', name: 'token', rows: 4, required: true, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'token-help' });
  const status = h('p', { role: 'status', 'aria-live': 'polite' });
  const form = h('form', { class: 'card narrow', 'aria-labelledby': 'signin-h' },
    h('h1', { id: 'signin-h' }, 'Sign in'),
    h('label', { for: 'token' }, 'API token'),
    input,
    h('p', { id: 'token-help', class: 'hint' }, 'Paste a token printed by ', h('code', {}, 'strom token create --scope admin'), ' or by ', h('code', {}, 'bash scripts/demo.sh'), '. It is kept in this browser only.'),
    h('button', { type: 'submit' }, 'Sign in'),
    status,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    setToken(token);
    status.textContent = 'Checking…';
    api('GET', '/api/v1/videos?limit=1').then(() => {
      location.hash = location.hash.startsWith('#/signin') || !location.hash ? '#/library' : location.hash;
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    }, (err: unknown) => {
      setToken(null);
      status.className = 'error';
      status.textContent = err instanceof ApiError ? `Not accepted: ${err.message} (${err.code})` : `Could not reach Strom: ${String(err)}`;
    });
  });
  main.append(form);
  input.focus();
}
