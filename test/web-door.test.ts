import http from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MensageiroError } from '../src/core/errors.js';
import { parseNativeObject } from '../src/dialects/native/codec.js';
import { NativeTestClient, ofType } from './helpers/native-client.js';
import { RawSocket } from './helpers/raw-socket.js';
import { startTestServer, type TestServer } from './helpers/server.js';

type Frame = Record<string, unknown>;

let server: TestServer;
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  await server?.close();
});

/** A WebSocket client that records every text message as a parsed object, and how it closed. */
class WsClient {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: Array<() => void> = [];

  constructor(readonly ws: WebSocket) {
    sockets.push(ws);
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.frames.push(JSON.parse(String(data)) as Frame);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.wake();
    });
    ws.on('error', () => undefined);
  }

  static async open(port: number, origin?: string): Promise<WsClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, origin === undefined ? {} : { origin });
    const client = new WsClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_request, response) =>
        reject(new Error(`HTTP ${response.statusCode}`)),
      );
      ws.once('error', reject);
    });
    return client;
  }

  send(value: unknown): void {
    this.ws.send(typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value));
  }

  async until<T>(check: () => T | undefined | null | false, what: string): Promise<T> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const value = check();
      if (value !== undefined && value !== null && value !== false) return value as T;
      if (Date.now() > deadline) throw new Error(`waiting for ${what}; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The n-th frame (counting from 1) that matches. */
  nth(match: (frame: Frame) => boolean, n: number, what: string): Promise<Frame> {
    return this.until(() => this.frames.filter(match)[n - 1], what);
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

function get(port: number, path: string, headers: http.OutgoingHttpHeaders = {}) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>(
    (resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, headers }, (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }),
          );
        })
        .on('error', reject);
    },
  );
}

/** An upgrade request by hand, to read the refusal's status line. */
async function upgradeStatus(port: number, origin: string, path = '/ws'): Promise<string> {
  const raw = await RawSocket.connect(port);
  await raw.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: ${origin}\r\n\r\n`,
  );
  const line = await raw.until(() => raw.text.includes('\r\n') && raw.text.split('\r\n')[0], 'status line');
  raw.close();
  return line;
}

describe('web door: the WebSocket carries the native protocol', () => {
  it('a browser-shaped client registers, sends to a TCP native client and gets the reply', async () => {
    server = await startTestServer();
    const web = await WsClient.open(server.ports.web!, `http://127.0.0.1:${server.ports.web}`);
    web.send({ type: 'register', username: 'wanda', secret: 'segredo-w', acks: true });
    const welcome = await web.nth(ofType('welcome'), 1, 'welcome');
    const tcp = await NativeTestClient.connect(server.ports.native!);
    const tcpWelcome = await tcp.register({ username: 'tito', acks: true });
    web.send({ type: 'msg', to: 'tito', text: 'olá pela web ✓', cid: 'c1' });
    expect(await web.nth(ofType('sent'), 1, 'durable ack')).toMatchObject({ cid: 'c1', duplicate: false });
    expect(await tcp.waitFor(ofType('msg'), 'at tcp')).toMatchObject({
      id: welcome.id,
      text: 'olá pela web ✓',
    });
    await tcp.send({ type: 'msg', to: welcome.id, text: 'e de volta', cid: 't1' });
    const back = await web.nth(ofType('msg'), 1, 'at web');
    expect(back).toMatchObject({ id: tcpWelcome.id, text: 'e de volta' });
    // The same cid again is the same message: acknowledged as a duplicate, delivered once.
    web.send({ type: 'msg', to: 'tito', text: 'olá pela web ✓', cid: 'c1' });
    expect(await web.nth(ofType('sent'), 2, 'second ack')).toMatchObject({ cid: 'c1', duplicate: true });
    await tcp.send({ type: 'ping' });
    await tcp.waitFor(ofType('pong'), 'pong');
    expect(tcp.frames.filter((f) => f.type === 'msg')).toHaveLength(1);
    tcp.close();
  });

  it('binary, invalid JSON and a JSON array get the native error; oversize closes; another client is undisturbed', async () => {
    server = await startTestServer({ maxFrame: 4096 });
    const bystander = await WsClient.open(server.ports.web!);
    bystander.send({ type: 'register', username: 'calma', secret: 'segredo-c', acks: true });
    const calm = await bystander.nth(ofType('welcome'), 1, 'welcome');

    const bad = await WsClient.open(server.ports.web!);
    bad.send(Buffer.from([0x00, 0xff, 0x10]));
    expect(await bad.nth(ofType('error'), 1, 'binary refused')).toMatchObject({ code: 'bad_frame' });
    bad.send('{"type": "ping"');
    expect(await bad.nth(ofType('error'), 2, 'invalid JSON')).toMatchObject({ code: 'bad_json' });
    bad.send('[{"type":"ping"}]');
    expect(await bad.nth(ofType('error'), 3, 'array')).toMatchObject({ code: 'bad_json' });
    bad.send('{"type":"nope"}');
    expect(await bad.nth(ofType('error'), 4, 'unknown type')).toMatchObject({ code: 'unknown_type' });
    bad.send({ type: 'ping' });
    await bad.nth(ofType('pong'), 1, 'still served after errors');
    bad.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(5000) }));
    const closed = await bad.until(() => bad.closed, 'close for oversize');
    expect(closed.code).toBe(1009);

    const tcp = await NativeTestClient.connect(server.ports.native!);
    await tcp.register({ acks: true });
    await tcp.send({ type: 'msg', to: calm.id, text: 'ainda aí?', cid: 'x' });
    expect(await bystander.nth(ofType('msg'), 1, 'bystander still served')).toMatchObject({
      text: 'ainda aí?',
    });
    expect(bystander.closed).toBeNull();
    tcp.close();
  });

  it('refuses a foreign Origin, accepts its own and one allowed by --web-origin', async () => {
    server = await startTestServer({ webOrigin: 'https://chat.example' });
    const port = server.ports.web!;
    expect(await upgradeStatus(port, 'https://evil.example')).toBe('HTTP/1.1 403 Forbidden');
    expect(await upgradeStatus(port, `http://localhost:${port + 1}`)).toBe('HTTP/1.1 403 Forbidden');
    expect(await upgradeStatus(port, `http://127.0.0.1:${port}`, '/other')).toBe('HTTP/1.1 404 Not Found');
    expect(await upgradeStatus(port, `http://127.0.0.1:${port}`)).toBe('HTTP/1.1 101 Switching Protocols');
    expect(await upgradeStatus(port, 'https://chat.example')).toBe('HTTP/1.1 101 Switching Protocols');
  });

  it('garbage on the HTTP port gets 400 and does not disturb a signed-in socket', async () => {
    server = await startTestServer();
    const web = await WsClient.open(server.ports.web!);
    web.send({ type: 'register', username: 'firme', secret: 'segredo-f' });
    const welcome = await web.nth(ofType('welcome'), 1, 'welcome');
    for (const garbage of [
      '\x00\x01\x02 nonsense\r\n\r\n',
      'GET / HTTP/9.9\r\nHost\r\n\r\n',
      'x'.repeat(70_000),
    ]) {
      const raw = await RawSocket.connect(server.ports.web!);
      await raw.write(garbage).catch(() => undefined);
      await raw.until(() => raw.closed, 'the server closes the garbage connection');
      expect(raw.text === '' || raw.text.startsWith('HTTP/1.1 4')).toBe(true);
    }
    const half = new net.Socket();
    await new Promise<void>((resolve) => half.connect(server.ports.web!, '127.0.0.1', resolve));
    half.write('GET / HTTP/1.1\r\nHost: x');
    const tcp = await NativeTestClient.connect(server.ports.native!);
    await tcp.register();
    await tcp.send({ type: 'msg', to: welcome.id, text: 'segue firme' });
    expect(await web.nth(ofType('msg'), 1, 'message after garbage')).toMatchObject({ text: 'segue firme' });
    half.destroy();
    tcp.close();
  });

  it('serves the built app gzipped, with a content security policy, and 404 elsewhere', async () => {
    server = await startTestServer();
    const page = await get(server.ports.web!, '/', { 'accept-encoding': 'gzip' });
    expect(page.status).toBe(200);
    expect(page.headers['content-encoding']).toBe('gzip');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(zlib.gunzipSync(page.body).toString()).toContain('<script type="module" src="app.js">');
    const script = await get(server.ports.web!, '/app.js');
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.body.length).toBeGreaterThan(1000);
    const cached = await get(server.ports.web!, '/app.js', { 'if-none-match': script.headers.etag });
    expect(cached.status).toBe(304);
    expect((await get(server.ports.web!, '/../package.json')).status).toBe(404);
  });

  it('counts sockets against the connection limits and closes a silent one after the handshake timeout', async () => {
    server = await startTestServer({ maxConnectionsPerIp: 2, handshakeTimeout: 300 });
    const first = await WsClient.open(server.ports.web!);
    first.send({ type: 'ping' });
    await first.nth(ofType('pong'), 1, 'pong');
    const silent = await WsClient.open(server.ports.web!);
    await expect(WsClient.open(server.ports.web!)).rejects.toThrow();
    await silent.until(() => silent.closed, 'the silent socket is closed');
    const again = await WsClient.open(server.ports.web!);
    again.send({ type: 'ping' });
    await again.nth(ofType('pong'), 1, 'a freed slot is usable');
    expect(first.closed).toBeNull();
  });

  it('parseNativeObject returns an object or a bad_json error for any text (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        (text) => {
          try {
            const value = parseNativeObject(text);
            expect(typeof value === 'object' && value !== null && !Array.isArray(value)).toBe(true);
          } catch (error) {
            expect(error).toBeInstanceOf(MensageiroError);
            expect((error as MensageiroError).code).toBe('bad_json');
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
