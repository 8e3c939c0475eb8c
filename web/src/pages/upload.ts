/**
 * `#/upload`: pick or drop a file (a real `<input type=file>` behind the drop zone, so keyboards
 * and screen readers work), send it with tus (resumable: pause/resume, retries), then follow the
 * transcode on the event stream until the video is playable and ready.
 */
import { events, getToken, type Video, api } from '../api.js';
import { announce, h } from '../dom.js';

/** The id of a tus upload's video: our `Strom-Video-Id` header, else the upload URL's last segment. */
function videoIdFrom(header: string | null | undefined, url: string | null): string | null {
  if (header) return header;
  return url ? (url.split('/').pop() ?? null) : null;
}

/** Render the upload page. */
export function uploadPage(main: HTMLElement, signal: AbortSignal): void {
  const file = h('input', { type: 'file', id: 'file', name: 'file', accept: 'video/*,audio/*,.mkv,.mov,.mp4,.webm', class: 'file-input', tabindex: -1 });
  const title = h('input', { type: 'text', id: 'title', name: 'title', autocomplete: 'off', placeholder: 'defaults to the file name' });
  const visibility = h('select', { id: 'visibility', name: 'visibility' }, h('option', { value: 'public' }, 'Public'), h('option', { value: 'signed' }, 'Signed (token required)'));
  // The drop zone is the keyboard stop (role button: Enter/Space open the picker); the input stays real but off the tab order.
  const drop = h('label', { for: 'file', class: 'dropzone', id: 'dropzone', role: 'button', 'aria-label': 'Choose a video file to upload, or drop one here' },
    h('strong', {}, 'Drop a video here'), h('span', {}, 'or press Enter / click to choose a file'));
  const bar = h('progress', { id: 'upload-progress', max: 100, value: 0, 'aria-labelledby': 'upload-label' });
  const label = h('p', { id: 'upload-label', 'aria-live': 'polite' }, 'No upload yet.');
  const pause = h('button', { type: 'button', id: 'pause', disabled: true }, 'Pause');
  const cancel = h('button', { type: 'button', id: 'cancel', class: 'secondary', disabled: true }, 'Cancel');
  const procBar = h('progress', { id: 'process-progress', max: 100, value: 0, 'aria-labelledby': 'process-label' });
  const procLabel = h('p', { id: 'process-label', 'aria-live': 'polite' }, 'Processing starts when the upload completes.');
  const result = h('p', { id: 'upload-result', 'aria-live': 'polite' });

  main.append(
    h('h1', {}, 'Upload'),
    h('form', { class: 'card upload', onsubmit: ((e: Event) => e.preventDefault()) as EventListener },
      h('div', { class: 'field' }, h('label', { for: 'title' }, 'Title'), title),
      h('div', { class: 'field' }, h('label', { for: 'visibility' }, 'Playback'), visibility),
      file, drop,
      h('section', { 'aria-label': 'Upload progress' }, bar, label, h('div', { class: 'row' }, pause, cancel)),
      h('section', { 'aria-label': 'Processing progress' }, procBar, procLabel),
      result,
    ),
  );

  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f) void start(f);
  });
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      file.click();
    }
  });
  drop.tabIndex = 0;
  file.addEventListener('change', () => {
    const f = file.files?.[0];
    if (f) void start(f);
  });

  async function start(f: File): Promise<void> {
    const { Upload } = await import('tus-js-client');
    let videoId: string | null = null;
    let paused = false;
    let follow: AbortController | null = null;
    const upload = new Upload(f, {
      endpoint: '/api/v1/uploads',
      headers: { authorization: `Bearer ${getToken() ?? ''}` },
      metadata: { filename: f.name, filetype: f.type || 'application/octet-stream', title: title.value.trim() || f.name.replace(/\.[^.]+$/, ''), visibility: visibility.value },
      chunkSize: 8 * 1024 * 1024,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      removeFingerprintOnSuccess: true,
      onAfterResponse(_req, res) {
        videoId ??= videoIdFrom(res.getHeader('Strom-Video-Id'), upload.url);
      },
      onProgress(sent, total) {
        const pct = total ? Math.floor((sent / total) * 100) : 0;
        bar.value = pct;
        label.textContent = `Uploading ${f.name}: ${pct}% (${(sent / 1048576).toFixed(1)} of ${(total / 1048576).toFixed(1)} MiB)`;
      },
      onError(err) {
        label.textContent = `Upload failed: ${err.message}`;
        label.className = 'error';
        pause.disabled = true;
      },
      onSuccess() {
        videoId ??= videoIdFrom(null, upload.url);
        bar.value = 100;
        label.textContent = `Uploaded ${f.name}.`;
        announce('Upload complete; processing.');
        pause.disabled = true;
        cancel.disabled = true;
        if (videoId) follow = followProcessing(videoId);
      },
    });
    pause.disabled = false;
    cancel.disabled = false;
    pause.onclick = () => {
      paused = !paused;
      if (paused) {
        void upload.abort();
        label.textContent = `Paused at ${bar.value}%.`;
      } else upload.start();
      pause.textContent = paused ? 'Resume' : 'Pause';
      pause.setAttribute('aria-pressed', String(paused));
    };
    cancel.onclick = () => {
      void upload.abort(true);
      label.textContent = 'Upload cancelled.';
      pause.disabled = cancel.disabled = true;
    };
    signal.addEventListener('abort', () => {
      follow?.abort();
      if (!paused && bar.value < 100) void upload.abort(); // leaving the page pauses; the upload can be resumed later
    });
    // Resume an earlier attempt of the same file (tus fingerprint in localStorage).
    const previous = await upload.findPreviousUploads();
    if (previous[0]) upload.resumeFromPreviousUpload(previous[0]);
    upload.start();
  }

  function followProcessing(id: string): AbortController {
    const ctl = new AbortController();
    signal.addEventListener('abort', () => ctl.abort());
    const done = (text: string, ok: boolean) => {
      procLabel.textContent = text;
      if (ok) result.replaceChildren(h('a', { href: `#/watch/${id}`, class: 'button', id: 'watch-link' }, 'Watch it'), ' ', h('a', { href: '#/library' }, 'Library'));
      announce(text);
    };
    void events(`videoId=${encodeURIComponent(id)}`, (e) => {
      if (e.type === 'video.progress') {
        const pct = Math.round(Number(e.data.percent) || 0);
        procBar.value = pct;
        procLabel.textContent = `Processing (${String(e.data.phase ?? 'transcode')}): ${pct}%`;
      } else if (e.type === 'video.playable') {
        done('Playable now (more renditions still encoding).', true);
      } else if (e.type === 'video.ready') {
        procBar.value = 100;
        done('Ready.', true);
        ctl.abort();
      } else if (e.type === 'video.errored') {
        procLabel.className = 'error';
        done(`Processing failed: ${String(e.data.message)} (${String(e.data.code)})`, false);
        ctl.abort();
      }
    }, ctl.signal);
    // The job may have finished before the stream connected: check the row once.
    void api<Video>('GET', `/api/v1/videos/${encodeURIComponent(id)}`, undefined, ctl.signal).then((v) => {
      if (v.status === 'ready') {
        procBar.value = 100;
        done('Ready.', true);
        ctl.abort();
      }
    }, () => undefined);
    return ctl;
  }
}
