/**
 * The watch page's captions section: the video's caption tracks (`GET /api/v1/videos/:id/captions`)
 * with a delete button each, and a form to upload a WebVTT or SubRip file for a language
 * (`POST …/captions?language=&label=&default=`, the file as the body). Upload and delete show only
 * to tokens with videos:write; the API's refusal (the line of a bad file) is shown as it is.
 */
import { ApiError, api, getToken, tokenScopes } from './api.js';
import { announce, h } from './dom.js';

/** A caption track (docs/API.md "Captions"). */
export interface Caption {
  language: string;
  label: string;
  default: boolean;
  format: string;
  cues: number;
  bytes: number;
  playback: { hls: string; vtt: string };
}

/** Send a caption file as the request body. */
async function upload(id: string, file: File, q: { language: string; label: string; isDefault: boolean }): Promise<Caption> {
  const params = new URLSearchParams({ language: q.language, ...(q.label ? { label: q.label } : {}), default: String(q.isDefault) });
  const type = /\.srt$/i.test(file.name) ? 'application/x-subrip' : 'text/vtt';
  const res = await fetch(`/api/v1/videos/${encodeURIComponent(id)}/captions?${params}`, {
    method: 'POST', headers: { authorization: `Bearer ${getToken() ?? ''}`, 'content-type': type, accept: 'application/json' }, body: file,
  });
  const json = await res.json().catch(() => ({})) as { error?: { code: string; message: string } } & Caption;
  if (!res.ok) throw new ApiError(res.status, json.error?.code ?? `HTTP_${res.status}`, json.error?.message ?? res.statusText);
  return json;
}

/** The captions section of video `id`; `onChange` runs after an upload or delete (e.g. to reload the player). */
export function captionsPanel(id: string, signal: AbortSignal, onChange: () => void): HTMLElement {
  const canWrite = tokenScopes().some((s) => s === 'videos:write' || s === 'admin');
  const list = h('ul', { class: 'captions', 'aria-live': 'polite' });
  const status = h('p', { class: 'error', role: 'alert', hidden: true });
  const section = h('section', { 'aria-labelledby': 'captions-h' }, h('h2', { id: 'captions-h' }, 'Captions'), list, status);
  const fail = (err: unknown) => {
    status.hidden = false;
    status.textContent = err instanceof Error ? err.message : String(err);
  };
  const refresh = async () => {
    const { items } = await api<{ items: Caption[] }>('GET', `/api/v1/videos/${encodeURIComponent(id)}/captions`, undefined, signal);
    list.replaceChildren(...(items.length === 0 ? [h('li', { class: 'placeholder' }, 'No captions yet.')] : items.map((c) => h('li', {},
      h('a', { href: c.playback.vtt, lang: c.language }, c.label), ` (${c.language}${c.default ? ', default' : ''}, ${c.cues} cues, from ${c.format.toUpperCase()}) `,
      canWrite ? h('button', { type: 'button', class: 'ctl', 'aria-label': `Delete ${c.label} captions`, onclick: () => {
        api('DELETE', `/api/v1/videos/${encodeURIComponent(id)}/captions/${encodeURIComponent(c.language)}`, undefined, signal)
          .then(() => { announce(`${c.label} captions deleted`); onChange(); return refresh(); }).catch(fail);
      } }, 'Delete') : null))));
  };
  if (canWrite) {
    const file = h('input', { type: 'file', accept: '.vtt,.srt,text/vtt,application/x-subrip', required: true, 'aria-label': 'Caption file (WebVTT or SubRip)' });
    const language = h('input', { type: 'text', required: true, placeholder: 'en, pt-BR', pattern: '[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*', 'aria-label': 'Language (BCP 47)' });
    const label = h('input', { type: 'text', placeholder: 'English', maxlength: 100, 'aria-label': 'Label' });
    const isDefault = h('input', { type: 'checkbox', id: 'caption-default' });
    const form = h('form', { class: 'caption-upload' }, file, language, label, h('label', { for: 'caption-default' }, isDefault, ' default'), h('button', { type: 'submit' }, 'Upload captions'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const f = file.files?.[0];
      if (!f) return;
      status.hidden = true;
      upload(id, f, { language: language.value.trim(), label: label.value.trim(), isDefault: isDefault.checked })
        .then((c) => { announce(`${c.label} captions uploaded`); form.reset(); onChange(); return refresh(); }).catch(fail);
    });
    section.append(form);
  }
  refresh().catch(fail);
  return section;
}
