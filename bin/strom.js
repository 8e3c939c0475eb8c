#!/usr/bin/env node
// The `strom` executable: runs the compiled CLI from dist/ (built by `npm ci` through `prepare`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('strom: dist/ is missing; run `npm ci` (or `npm run build`) in the checkout first');
  process.exit(1);
}
await import(entry.href);
