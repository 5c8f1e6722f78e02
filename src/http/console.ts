import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { CONSOLE_CSS, CONSOLE_HTML, CONSOLE_JS } from './console-page.js';

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * Strict CSP: no script or style but the page's own (pinned by hash, so no 'unsafe-inline'),
 * requests only to this origin, no frames, no forms posted anywhere, no base rewrite.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(CONSOLE_JS)}`,
  `style-src ${sha256(CONSOLE_CSS)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const BODY = Buffer.from(CONSOLE_HTML, 'utf8');

/** GET /console: the page, with headers that keep it out of frames, caches and referrers. */
export function sendConsole(res: ServerResponse): void {
  res.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': BODY.length,
    'Content-Security-Policy': CONSOLE_CSP,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  }).end(BODY);
}
