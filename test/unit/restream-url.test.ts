/**
 * Restreaming destinations: the masked form the API answers, the redaction of error texts, and
 * the checks the transport registry makes before a destination is stored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStromError } from '../../src/errors.js';
import { maskOutputUrl, redact, secretsOf } from '../../src/live/restream/output-url.js';
import { defaultTransports } from '../../src/live/restream/transports.js';

test('masked URLs keep scheme, host, port and path, and show 4 characters of the key', () => {
  assert.equal(maskOutputUrl('rtmp://a.rtmp.youtube.com/live2', 'abcd-efgh-ijkl-mnop'), 'rtmp://a.rtmp.youtube.com/live2/••••mnop');
  assert.equal(maskOutputUrl('rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop', null), 'rtmp://a.rtmp.youtube.com/live2/••••mnop');
  assert.equal(maskOutputUrl('rtmps://user:pa55word@live-api-s.facebook.com:443/rtmp/FB-123456789-0-Abcdef', null), 'rtmps://live-api-s.facebook.com:443/rtmp/••••cdef');
  assert.equal(maskOutputUrl('rtmp://h/app/key?token=s3cr3t', null), 'rtmp://h/app/••••?••••', 'short keys are all dots, a query is hidden');
  assert.equal(maskOutputUrl('sk_live_0123456789', null), '••••', 'not a URL: nothing of it is shown');
});

test('redact replaces every secret of a destination in a text', () => {
  const url = 'rtmp://bob:hunter22@h:1935/live/key_ABCDEFGH1234?auth=zzz999';
  const secrets = secretsOf(url, null);
  const text = redact('stream key "key_ABCDEFGH1234" is not known (bob/hunter22, auth=zzz999)', secrets);
  for (const s of ['key_ABCDEFGH1234', 'hunter22', 'zzz999']) assert.ok(!text.includes(s), text);
  assert.match(text, /••••1234/);
  assert.deepEqual(secretsOf('rtmp://h/live', 'the-separate-key'), ['the-separate-key']);
});

test('the registry accepts rtmp and rtmps destinations and refuses the rest with a precise error', () => {
  const reg = defaultTransports();
  assert.deepEqual(reg.schemes(), ['rtmp', 'rtmps']);
  assert.equal(reg.check('rtmp://h/live/key', null).transport.schemes[0], 'rtmp');
  assert.equal(reg.check('RTMPS://h:443/app', 'k').target.scheme, 'rtmps');
  const cases: Array<[string, string | null, string, RegExp]> = [
    ['srt://h:9000?streamid=x', null, 'LIVE_OUTPUT_SCHEME_UNSUPPORTED', /"srt".*rtmp:\/\/, rtmps:\/\//],
    ['https://h/live/k', null, 'LIVE_OUTPUT_SCHEME_UNSUPPORTED', /"https"/],
    ['rtmp://h', 'k', 'LIVE_OUTPUT_BAD_URL', /no application/],
    ['rtmp://h/live', null, 'LIVE_OUTPUT_BAD_URL', /no stream key/],
    ['rtmp live key', null, 'LIVE_OUTPUT_BAD_URL', /not a URL/],
    ['rtmp:/x', null, 'LIVE_OUTPUT_BAD_URL', /no host/],
  ];
  for (const [url, key, code, message] of cases) {
    assert.throws(() => reg.check(url, key), (err: unknown) => isStromError(err, code as 'LIVE_OUTPUT_BAD_URL') && message.test(err.message), url);
  }
  // A key put where the application belongs is not echoed.
  assert.throws(() => reg.check('rtmp://h/sk_secret_1234567', null), (err: unknown) => isStromError(err, 'LIVE_OUTPUT_BAD_URL') && !err.message.includes('sk_secret'));
});
