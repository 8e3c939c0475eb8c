/**
 * The "Restream" card of a live stream's page: its outputs (pushes to other platforms) with their
 * state, last error and bytes sent, a form to add one (URL + stream key) and per-output
 * enable/disable and remove. The API answers destinations masked, so keys never reach the page
 * after they are typed. State changes arrive as `live.output.state` events; the card also
 * refreshes with the page.
 */
import { api } from './api.js';
import { announce, h } from './dom.js';

/** An output as the API returns it (src/http/api/live-outputs.ts). */
interface LiveOutput {
  id: string;
  name: string;
  url: string;
  enabled: boolean;
  state: 'idle' | 'connecting' | 'live' | 'reconnecting' | 'failed';
  lastError: string | null;
  bytesSent: number;
  reconnects: number;
}

/** Bytes as B/KB/MB/GB. */
function fmtBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** The card and its `refresh` (call it on the page's timer and on output events). */
export function liveOutputsCard(streamId: string, signal: AbortSignal): { el: HTMLElement; refresh: () => Promise<void> } {
  const base = `/api/v1/live-streams/${encodeURIComponent(streamId)}/outputs`;
  const list = h('ul', { class: 'list outputs', id: 'outputs', 'aria-label': 'Restream outputs' });
  const status = h('p', { role: 'status', class: 'hint' });
  const name = h('input', { id: 'output-name', type: 'text', placeholder: 'YouTube' });
  const url = h('input', { id: 'output-url', type: 'url', required: true, placeholder: 'rtmp://a.rtmp.youtube.com/live2', class: 'mono' });
  const key = h('input', { id: 'output-key', type: 'password', placeholder: 'stream key', autocomplete: 'off', class: 'mono' });
  const form = h('form', { class: 'row wrap', id: 'add-output' },
    h('div', { class: 'field' }, h('label', { for: 'output-name' }, 'Name'), name),
    h('div', { class: 'field grow' }, h('label', { for: 'output-url' }, 'RTMP(S) URL'), url),
    h('div', { class: 'field' }, h('label', { for: 'output-key' }, 'Stream key'), key),
    h('button', { type: 'submit' }, 'Add output'));
  const fail = (what: string) => (err: Error) => {
    status.className = 'error';
    status.textContent = `${what}: ${err.message}`;
  };

  const row = (o: LiveOutput): HTMLElement => {
    const badge = h('span', { class: o.state === 'live' ? 'badge live' : 'badge', 'data-state': o.state }, o.state);
    const toggle = h('button', { type: 'button', class: 'secondary', 'aria-label': `${o.enabled ? 'Disable' : 'Enable'} ${o.name || o.url}` }, o.enabled ? 'Disable' : 'Enable');
    toggle.addEventListener('click', () => void api('PATCH', `${base}/${o.id}`, { enabled: !o.enabled }).then(refresh, fail('Could not change the output')));
    const remove = h('button', { type: 'button', class: 'secondary', 'aria-label': `Remove ${o.name || o.url}` }, 'Remove');
    remove.addEventListener('click', () => void api('DELETE', `${base}/${o.id}`).then(() => {
      announce('Output removed.');
      return refresh();
    }, fail('Could not remove the output')));
    return h('li', { 'data-output': o.id },
      badge, ' ', h('strong', {}, o.name || 'output'), ' ', h('span', { class: 'mono' }, o.url),
      h('span', { class: 'hint' }, ` · ${fmtBytes(o.bytesSent)} sent${o.reconnects ? ` · ${o.reconnects} reconnects` : ''}${o.enabled ? '' : ' · disabled'}`),
      o.lastError && o.state !== 'live' ? h('div', { class: 'error' }, o.lastError) : null,
      h('div', { class: 'row' }, toggle, remove));
  };

  async function refresh(): Promise<void> {
    const page = await api<{ items: LiveOutput[] }>('GET', base, undefined, signal).catch(() => null);
    if (page === null || signal.aborted) return;
    list.replaceChildren(...page.items.map(row));
    if (!page.items.length) list.append(h('li', { class: 'empty' }, 'No outputs: add a platform to push this stream to.'));
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = { url: url.value.trim(), name: name.value.trim() || undefined, streamKey: key.value.trim() || undefined };
    api<LiveOutput>('POST', base, body).then((o) => {
      status.className = 'hint';
      status.textContent = `Added ${o.url}.`;
      form.reset();
      return refresh();
    }, fail('Could not add the output'));
  });

  const el = h('section', { class: 'card', 'aria-labelledby': 'outputs-h' },
    h('h2', { id: 'outputs-h' }, 'Restream'),
    h('p', { class: 'hint' }, 'Push this stream, unchanged, to other platforms while it is live (RTMP or RTMPS).'),
    list, form, status);
  return { el, refresh };
}
