import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import WebSocket from 'ws';

/**
 * The web row's two browser-side figures: the app's first-load size, and how long Chromium takes
 * from opening the page to an interactive conversation list of N conversations.
 */

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Bytes a first visit downloads: every file of the built app, gzipped as the door serves it. */
export function appFirstLoadBytes(appDir: string): { gzip: number; raw: number } {
  let gzip = 0;
  let raw = 0;
  for (const name of fs.readdirSync(appDir)) {
    const body = fs.readFileSync(path.join(appDir, name));
    raw += body.length;
    gzip += zlib.gzipSync(body, { level: 9 }).length;
  }
  return { gzip, raw };
}

type Frame = Record<string, unknown>;

/** One socket to the door: sends native objects and resolves the first answer of a type. */
async function door(port: number) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const frames: Frame[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)) as Frame);
    for (const wake of waiters.splice(0)) wake();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = async (type: string): Promise<Frame> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const found = frames.find((frame) => frame.type === type || frame.type === 'error');
      if (found) {
        frames.splice(frames.indexOf(found), 1);
        if (found.type === 'error') throw new Error(`door: ${JSON.stringify(found)}`);
        return found;
      }
      if (Date.now() > deadline) throw new Error(`door: no ${type} in 30 s`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { send: (frame: Frame) => ws.send(JSON.stringify(frame)), next, close: () => ws.close() };
}

/** A reader with `conversations` peers, each of whom has sent it one message. */
async function seed(port: number, conversations: number): Promise<{ username: string; secret: string }> {
  const reader = { username: 'reader', secret: 'bench-reader-secret' };
  const registrar = await door(port);
  registrar.send({ type: 'register', ...reader });
  const readerId = (await registrar.next('welcome')).id as number;
  registrar.close();
  const BASE = 2_000_000_000_000;
  for (let at = 0; at < conversations; at += 100) {
    const batch = Array.from({ length: Math.min(100, conversations - at) }, (_, i) => at + i);
    await Promise.all(
      batch.map(async (i) => {
        const peer = await door(port);
        peer.send({ type: 'new', id: BASE + i, acks: true });
        await peer.next('welcome');
        peer.send({ type: 'msg', to: readerId, text: `conversa ${i}`, cid: 1 });
        await peer.next('sent');
        peer.close();
      }),
    );
  }
  return reader;
}

export interface WebLoadResult {
  conversations: number;
  /** Page opened to the list shown, signing in and receiving every conversation from the server. */
  firstSignInMs: number;
  /** A reload of the signed-in page to the list shown, from this browser's IndexedDB. */
  reloadMs: number;
}

/** Null when Chromium is not installed (the row says so rather than failing the bench). */
export async function timeToConversationList(
  port: number,
  conversations: number,
): Promise<WebLoadResult | null> {
  if (!fs.existsSync(CHROMIUM_PATH)) return null;
  const { chromium } = await import('playwright-core');
  const reader = await seed(port, conversations);
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  try {
    const context = await browser.newContext({ baseURL: `http://127.0.0.1:${port}` });
    context.setDefaultTimeout(120_000);
    const page = await context.newPage();
    // The lobby is one more entry, after the conversations.
    const listShown = () => page.locator('#convs .conv').nth(conversations).waitFor();
    const started = performance.now();
    await page.goto('/');
    await page.getByLabel('Username').fill(reader.username);
    await page.getByLabel('Password').fill(reader.secret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await listShown();
    const firstSignInMs = Math.round(performance.now() - started);
    const reloaded = performance.now();
    await page.reload();
    await listShown();
    const reloadMs = Math.round(performance.now() - reloaded);
    return { conversations, firstSignInMs, reloadMs };
  } finally {
    await browser.close();
  }
}
