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

test('srt:// URLs show host, port and tuning; the stream id, passphrase and unknown parameters are masked', () => {
  assert.equal(maskOutputUrl('srt://ingest.example.com:9000?streamid=%23!%3A%3Ar%3Ddst_Zq81xLmw0pQr7734%2Cm%3Dpublish&passphrase=correct-horse-battery&latency=200&pbkeylen=32', null),
    'srt://ingest.example.com:9000?streamid=••••7734&passphrase=••••&latency=200&pbkeylen=32');
  // Unencoded, as ffmpeg users write it: the `#` is part of the stream id, not a fragment.
  assert.equal(maskOutputUrl('srt://h:9000?streamid=#!::r=dst_Zq81xLmw0pQr7734,m=publish&passphrase=correct-horse-battery', null), 'srt://h:9000?streamid=••••7734&passphrase=••••');
  assert.equal(maskOutputUrl('srt://h:9000?streamid=publish:sk_abcdefgh9876', null), 'srt://h:9000?streamid=••••9876');
  assert.equal(maskOutputUrl('srt://h:9000?latency=120', 'the-separate-key'), 'srt://h:9000?streamid=••••-key&latency=120', 'a separate key is the stream id');
  assert.equal(maskOutputUrl('srt://h:9000?token=abcdef123456', null), 'srt://h:9000?token=••••', 'parameters not known as tuning may be secrets');
  assert.equal(maskOutputUrl('srt://h:9000/sk_in_the_path', null), 'srt://h:9000/••••');
  assert.equal(maskOutputUrl('srt://h:9000', null), 'srt://h:9000');
  const url = 'srt://h:9000?streamid=#!::r=dst_Zq81xLmw0pQr7734,m=publish&passphrase=correct-horse-battery';
  const text = redact('stream #!::r=dst_Zq81xLmw0pQr7734,m=publish with correct-horse-battery; key dst_Zq81xLmw0pQr7734', secretsOf(url, null));
  for (const s of ['dst_Zq81xLmw0pQr7734', 'correct-horse-battery']) assert.ok(!text.includes(s), text);
});

test('redact replaces every secret of a destination in a text', () => {
  const url = 'rtmp://bob:hunter22@h:1935/live/key_ABCDEFGH1234?auth=zzz999';
  const secrets = secretsOf(url, null);
  const text = redact('stream key "key_ABCDEFGH1234" is not known (bob/hunter22, auth=zzz999)', secrets);
  for (const s of ['key_ABCDEFGH1234', 'hunter22', 'zzz999']) assert.ok(!text.includes(s), text);
  assert.match(text, /••••1234/);
  assert.deepEqual(secretsOf('rtmp://h/live', 'the-separate-key'), ['the-separate-key']);
});

test('the registry accepts rtmp, rtmps and srt destinations and refuses the rest with a precise error', () => {
  const reg = defaultTransports();
  assert.deepEqual(reg.schemes(), ['rtmp', 'rtmps', 'srt']);
  assert.equal(reg.check('srt://h:9000?streamid=x&passphrase=0123456789&pbkeylen=24&latency=200000&mode=caller', null).transport.schemes[0], 'srt');
  assert.equal(reg.check('srt://h:9000', 'k').target.streamKey, 'k');
  assert.equal(reg.check('rtmp://h/live/key', null).transport.schemes[0], 'rtmp');
  assert.equal(reg.check('RTMPS://h:443/app', 'k').target.scheme, 'rtmps');
  const cases: Array<[string, string | null, string, RegExp]> = [
    ['rist://h:9000', null, 'LIVE_OUTPUT_SCHEME_UNSUPPORTED', /"rist".*rtmp:\/\/, rtmps:\/\/, srt:\/\//],
    ['srt://h?streamid=x', null, 'LIVE_OUTPUT_BAD_URL', /no port/],
    ['srt://h:9000/key', null, 'LIVE_OUTPUT_BAD_URL', /no path/],
    ['srt://h:9000?passphrase=short', null, 'LIVE_OUTPUT_BAD_URL', /10 to 79 characters, not 5/],
    ['srt://h:9000?pbkeylen=20', null, 'LIVE_OUTPUT_BAD_URL', /pbkeylen=20/],
    ['srt://h:9000?latency=fast', null, 'LIVE_OUTPUT_BAD_URL', /an integer/],
    ['srt://h:9000?latency=9000', null, 'LIVE_OUTPUT_BAD_URL', /20 to 8000 ms/],
    ['srt://h:9000?mode=listener', null, 'LIVE_OUTPUT_BAD_URL', /mode=caller/],
    ['srt://h:9000?transtype=file', null, 'LIVE_OUTPUT_BAD_URL', /only live/],
    ['https://h/live/k', null, 'LIVE_OUTPUT_SCHEME_UNSUPPORTED', /"https"/],
    ['rtmp://h', 'k', 'LIVE_OUTPUT_BAD_URL', /no application/],
    ['rtmp://h/live', null, 'LIVE_OUTPUT_BAD_URL', /no stream key/],
    ['rtmp live key', null, 'LIVE_OUTPUT_BAD_URL', /not a URL/],
    ['rtmp:/x', null, 'LIVE_OUTPUT_BAD_URL', /no host/],
  ];
  for (const [url, key, code, message] of cases) {
    assert.throws(() => reg.check(url, key), (err: unknown) => isStromError(err, code as 'LIVE_OUTPUT_BAD_URL') && message.test(err.message), url);
  }
  assert.throws(() => reg.check('srt://h:9000?passphrase=wrong', null), (err: unknown) => isStromError(err) && !err.message.includes('wrong'), 'a passphrase is not echoed');
  // A key put where the application belongs is not echoed.
  assert.throws(() => reg.check('rtmp://h/sk_secret_1234567', null), (err: unknown) => isStromError(err, 'LIVE_OUTPUT_BAD_URL') && !err.message.includes('sk_secret'));
});
