import fs from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, it } from 'vitest';
import type { ServerConfig } from '../../src/server/config.js';
import { startTestServer, type TestServer } from './server.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const available = fs.existsSync(CHROMIUM_PATH);
const required = process.env.MENSAGEIRO_REQUIRE_SERVICES === '1';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * A describe block whose tests share one Chromium (a new context per test keeps them apart).
 * Without Chromium it says so loudly and runs nothing, or fails under MENSAGEIRO_REQUIRE_SERVICES=1.
 */
export function describeBrowser(name: string, body: (browser: () => Browser) => void): void {
  if (!available) {
    const why = `Chromium not found at ${CHROMIUM_PATH} (set CHROMIUM_PATH, or apt-get install chromium)`;
    if (required) {
      describe(name, () => {
        it('needs Chromium', () => {
          throw new Error(`${why}; MENSAGEIRO_REQUIRE_SERVICES=1 requires it`);
        });
      });
    } else {
      console.warn(`\n*** SKIPPING the browser tests "${name}": ${why} ***\n`);
      describe.skip(name, () => body(() => undefined as never));
    }
    return;
  }
  // A browser test is a user's whole story, on a machine that may be busy: room to finish.
  describe(name, { timeout: 120_000 }, () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, headless: true });
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
    });
    body(() => browser);
  });
}

export interface WebUser {
  context: BrowserContext;
  page: Page;
}

/** A fresh browser profile on the app, with the page's dialogs recorded (none should open). */
export async function openApp(
  browser: Browser,
  port: number,
  options: { width?: number } = {},
): Promise<WebUser & { dialogs: string[] }> {
  const context = await browser.newContext({
    baseURL: `http://127.0.0.1:${port}`,
    viewport: { width: options.width ?? 1000, height: 700 },
    colorScheme: 'light',
  });
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.goto('/');
  return { context, page, dialogs };
}

export async function signUp(page: Page, username: string, password = 'senha-secreta'): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.locator('#me', { hasText: username }).waitFor();
}

export async function signIn(page: Page, username: string, password = 'senha-secreta'): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#me', { hasText: username }).waitFor();
}

/** Starts a chat by username or id through the New chat dialog. */
export async function newChat(page: Page, name: string, title = name): Promise<void> {
  await page.getByRole('button', { name: 'New chat' }).click();
  await page.getByLabel('Username or 13-digit id').fill(name);
  await page.getByRole('button', { name: 'OK' }).click();
  await page.locator('#title', { hasText: title }).waitFor();
}

export async function openConversation(page: Page, name: string): Promise<void> {
  await page.locator('#convs .conv', { hasText: name }).first().click();
  await page.locator('#title', { hasText: name }).waitFor();
}

export async function type(page: Page, text: string): Promise<void> {
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByLabel('Message', { exact: true }).press('Enter');
}

/** The bubble holding `text` (exactly), once it shows. */
export async function bubble(page: Page, text: string) {
  const found = page.locator('#messages .bubble', { has: page.locator('.text', { hasText: text }) });
  await found.first().waitFor();
  return found;
}

/** Waits until the user's own message `text` shows the mark `status`. */
export async function waitForMark(page: Page, text: string, status: string): Promise<void> {
  await page
    .locator('#messages .bubble.own', { has: page.locator('.text', { hasText: text }) })
    .locator(`.mark[data-status="${status}"]`)
    .waitFor();
}

/** A fresh server for every test, and what the test opened (closed after it, in order). */
export function serverPerTest(flags: Partial<Record<keyof ServerConfig, unknown>> = {}) {
  const state = { server: undefined as unknown as TestServer, closers: [] as Array<() => unknown> };
  beforeEach(async () => {
    state.server = await startTestServer(flags);
  });
  afterEach(async () => {
    for (const close of state.closers.splice(0)) await close();
    await state.server?.close();
  });
  return state;
}
