import crypto from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

/** The built app's files, read and gzipped once at start-up: the app is a few small files. */
interface StaticFile {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
};

// The app renders text only; this keeps any slip from running a script or loading a stranger's
// resource. 'self' in connect-src covers the same-origin ws:/wss: socket.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * Where the bundle is: dist/web beside dist/server when running the build, or the build's
 * dist/web when this module runs from src (the tests).
 */
export function defaultAppDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, '../web'), path.join(here, '../../dist/web')];
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'app.js'))) ?? candidates[1]!;
}

export function loadApp(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!fs.existsSync(dir)) return files;
  for (const name of fs.readdirSync(dir)) {
    const type = TYPES[path.extname(name)];
    if (type === undefined) continue;
    const body = fs.readFileSync(path.join(dir, name));
    const etag = `"${crypto.createHash('sha1').update(body).digest('base64url').slice(0, 16)}"`;
    files.set(`/${name}`, { type, body, gzip: zlib.gzipSync(body, { level: 9 }), etag });
  }
  const index = files.get('/index.html');
  if (index) files.set('/', index);
  return files;
}

/** GET and HEAD of the app's files; everything else is a short plain-text answer. */
export function serveApp(
  files: Map<string, StaticFile>,
  request: http.IncomingMessage,
  response: http.ServerResponse,
): void {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  const pathname = (request.url ?? '/').split('?')[0]!;
  const file = files.get(pathname);
  if (file === undefined) {
    const missing = files.size === 0 ? 'the web app is not built: run npm run build\n' : 'not found\n';
    response.writeHead(files.size === 0 ? 503 : 404, { 'content-type': 'text/plain' }).end(missing);
    return;
  }
  const headers: http.OutgoingHttpHeaders = {
    ...SECURITY_HEADERS,
    'content-type': file.type,
    'cache-control': 'no-cache',
    etag: file.etag,
    vary: 'accept-encoding',
  };
  if (request.headers['if-none-match'] === file.etag) {
    response.writeHead(304, headers).end();
    return;
  }
  const gzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
  const body = gzip ? file.gzip : file.body;
  if (gzip) headers['content-encoding'] = 'gzip';
  headers['content-length'] = body.length;
  response.writeHead(200, headers);
  response.end(request.method === 'HEAD' ? undefined : body);
}
