import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../src/client/client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
afterEach(async () => {
  await server.close();
});

describe('SDK', () => {
  it('runs the documented example against a real server', async () => {
    server = await startTestServer();
    const example = path.resolve(import.meta.dirname, '../examples/sdk-example.mjs');
    const child = spawn(process.execPath, [example], {
      env: { ...process.env, PORT: String(server.ports.native) },
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(out).toMatch(/bob got "oi, bob!"/);
    expect(out.indexOf('delivered by')).toBeGreaterThan(-1);
    expect(out.indexOf('delivered by')).toBeLessThan(out.indexOf('read by'));
  });

  it('resends its outbox after a reconnect, resumes, and offers events as an async iterator', async () => {
    server = await startTestServer();
    const port = server.ports.native!;
    const sender = new Client({
      host: '127.0.0.1',
      port,
      register: { username: 'outboxer' },
      minReconnectDelayMs: 20,
    });
    const receiver = new Client({ host: '127.0.0.1', port, register: {} });
    await Promise.all([sender.connect(), receiver.connect()]);
    const texts: string[] = [];
    const abort = new AbortController();
    const collected = (async () => {
      for await (const event of receiver.events(abort.signal)) {
        if (event.type === 'message') texts.push(event.data.text);
        if (texts.length === 3) abort.abort();
      }
    })();
    // Cut the sender's socket under it: the sends wait in the outbox and go after the reconnect.
    const reconnected = new Promise((resolve) => sender.once('connected', resolve));
    (sender as unknown as { socket: { destroy(): void } }).socket.destroy();
    const acks = await Promise.all(['um', 'dois', 'três'].map((t) => sender.send(receiver.id!, t)));
    await reconnected;
    expect(acks.map((a) => a.duplicate)).toEqual([false, false, false]);
    await collected;
    expect(texts).toEqual(['um', 'dois', 'três']);
    expect(sender.unacknowledged).toEqual([]);
    sender.close();
    receiver.close();
  });

  it('rejects a send to an unknown recipient and a login with a wrong secret', async () => {
    server = await startTestServer();
    const port = server.ports.native!;
    const client = new Client({ host: '127.0.0.1', port, register: { username: 'solo', secret: 'right' } });
    await client.connect();
    await expect(client.send('nobody-here', 'x')).rejects.toMatchObject({ code: 'unknown_recipient' });
    client.close();
    const wrong = new Client({ host: '127.0.0.1', port, identity: { username: 'solo', secret: 'wrong' } });
    await expect(wrong.connect()).rejects.toMatchObject({ code: 'auth_failed' });
  });
});

describe('SDK requests that the server refuses', () => {
  it('rejects createGroup and lookup with the server error, matched by cid', async () => {
    server = await startTestServer();
    const client = new Client({ host: '127.0.0.1', port: server.ports.native!, register: {} });
    await client.connect();
    await expect(client.createGroup('ghosts', ['nobody-at-all'])).rejects.toMatchObject({
      code: 'unknown_recipient',
    });
    await expect(client.lookup('nobody-either')).rejects.toMatchObject({ code: 'unknown_recipient' });
    // A good request after the refusals still gets its own answer.
    expect(await client.lookup(client.id!)).toMatchObject({ id: client.id, kind: 'user' });
    client.close();
  });
});
