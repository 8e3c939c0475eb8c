/**
 * The glass-to-glass barcode of the WebRTC latency benches, as page JavaScript: `draw(ctx, t)`
 * paints Date.now() (32 bits of ms + an 8-bit checksum, 40 blocks of 32×32 px, over a grey
 * 320×240 picture with 300 random rectangles below when `window.busy`), `read(ctx)` decodes it from
 * a received frame and returns the encoded time, or null when the checksum fails. One page (or
 * pages of one browser) = one clock, so `Date.now() - read(ctx)` needs no clock sync.
 */
/** Page script defining draw(ctx, t) and read(ctx). */
export const BARCODE_JS = `const BW = 32, COLS = 10, ROWS = 4;
function draw(ctx, t) {
  const v = t % 4294967296; const bytes = [v >>> 24 & 255, v >>> 16 & 255, v >>> 8 & 255, v & 255];
  bytes.push((bytes[0] + bytes[1] + bytes[2] + bytes[3] + 0x5a) & 255);
  ctx.fillStyle = '#808080'; ctx.fillRect(0, 0, 320, 240);
  if (window.busy) for (let i = 0; i < 300; i++) { ctx.fillStyle = 'rgb(' + (Math.random() * 255 | 0) + ',' + (Math.random() * 255 | 0) + ',' + (Math.random() * 255 | 0) + ')'; ctx.fillRect(Math.random() * 310, 130 + Math.random() * 100, 10, 10); }
  for (let i = 0; i < 40; i++) { const bit = (bytes[i >> 3] >> (7 - (i & 7))) & 1; ctx.fillStyle = bit ? '#fff' : '#000'; ctx.fillRect((i % COLS) * BW, ((i / COLS) | 0) * BW, BW, BW); }
}
function read(ctx) {
  const px = ctx.getImageData(0, 0, 320, ROWS * BW).data; const bytes = [0, 0, 0, 0, 0];
  for (let i = 0; i < 40; i++) { const x = (i % COLS) * BW + BW / 2, y = ((i / COLS) | 0) * BW + BW / 2; const o = (y * 320 + x) * 4;
    const lum = (px[o] + px[o + 1] + px[o + 2]) / 3; if (lum > 128) bytes[i >> 3] |= 1 << (7 - (i & 7)); }
  if (((bytes[0] + bytes[1] + bytes[2] + bytes[3] + 0x5a) & 255) !== bytes[4]) return null;
  const low = ((bytes[0] << 24) >>> 0) + (bytes[1] << 16) + (bytes[2] << 8) + bytes[3];
  const now = Date.now(); return now - ((now - low) % 4294967296 + 4294967296) % 4294967296 === now ? null : now - (((now % 4294967296) - low + 4294967296) % 4294967296);
}
`;
