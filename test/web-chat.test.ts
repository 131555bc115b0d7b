import { afterEach, beforeEach, expect, it } from 'vitest';
import WebSocket from 'ws';
import { NativeTestClient } from './helpers/native-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import {
  bubble,
  describeBrowser,
  newChat,
  openApp,
  openConversation,
  signUp,
  type,
  waitForMark,
} from './helpers/browser.js';

let server: TestServer;

beforeEach(async () => {
  server = await startTestServer();
});
afterEach(async () => {
  await server?.close();
});

describeBrowser('web client: two browsers chat', (browser) => {
  it('alice and bob chat both ways; the marks go ✓, ✓✓, then blue ✓✓ as bob opens the conversation', async () => {
    const alice = await openApp(browser(), server.ports.web!);
    const bob = await openApp(browser(), server.ports.web!);
    await signUp(alice.page, 'alice');
    await signUp(bob.page, 'bob');
    // Bob goes away: what alice sends is stored, not delivered.
    await bob.page.close();

    await newChat(alice.page, 'bob');
    await type(alice.page, 'oi bob');
    await waitForMark(alice.page, 'oi bob', 'sent');

    // Bob comes back (same profile: the token signs him in) and gets it, but has not opened it.
    const bobPage = await bob.context.newPage();
    await bobPage.goto('/');
    await bobPage
      .locator('#convs .conv', { hasText: 'alice' })
      .locator('.unread', { hasText: '1' })
      .waitFor();
    await waitForMark(alice.page, 'oi bob', 'delivered');
    expect(await alice.page.locator('.mark.read').count()).toBe(0);

    await openConversation(bobPage, 'alice');
    await bubble(bobPage, 'oi bob');
    await waitForMark(alice.page, 'oi bob', 'read');

    await type(bobPage, 'oi alice, tudo bem?');
    await bubble(alice.page, 'oi alice, tudo bem?');
    await type(alice.page, 'tudo ótimo! olha o site https://example.org');
    await waitForMark(alice.page, 'tudo ótimo!', 'read');
    expect(alice.dialogs).toEqual([]);
    // docs/web.md's picture of a real conversation: MENSAGEIRO_WEB_SCREENSHOT=docs/web-conversation.png
    const screenshot = process.env.MENSAGEIRO_WEB_SCREENSHOT;
    if (screenshot) await alice.page.screenshot({ path: screenshot });
    await alice.context.close();
    await bob.context.close();
  });

  it('text that looks like HTML shows as text, and no dialog opens', async () => {
    const alice = await openApp(browser(), server.ports.web!);
    await signUp(alice.page, 'alice');
    const bob = await NativeTestClient.connect(server.ports.native!);
    await bob.register({ username: 'bob', secret: 'segredo-b', acks: true });
    const attacks = ['<img src=x onerror=alert(1)>', '<script>alert(2)</script>', '<b>negrito</b> & &amp;'];
    for (const [index, text] of attacks.entries()) {
      await bob.send({ type: 'msg', to: 'alice', text, cid: `x${index}` });
    }
    await openConversation(alice.page, 'bob');
    for (const text of attacks) {
      const shown = await bubble(alice.page, text);
      expect(await shown.locator('.text').textContent()).toBe(text);
    }
    await newChat(alice.page, 'bob');
    await type(alice.page, '<img src=y onerror=alert(3)>');
    await bubble(alice.page, '<img src=y onerror=alert(3)>');
    expect(await alice.page.locator('#messages img, #messages script, #messages b').count()).toBe(0);
    expect(alice.dialogs).toEqual([]);
    bob.close();
    await alice.context.close();
  });

  it('bad input on another socket leaves a signed-in browser connected', async () => {
    const alice = await openApp(browser(), server.ports.web!);
    await signUp(alice.page, 'alice');
    const rude = new WebSocket(`ws://127.0.0.1:${server.ports.web}/ws`);
    const closed = new Promise<number>((resolve) => rude.on('close', (code) => resolve(code)));
    rude.on('error', () => undefined);
    await new Promise((resolve) => rude.once('open', resolve));
    rude.send(Buffer.from([1, 2, 3]));
    rude.send('not json');
    rude.send('[1]');
    rude.send('x'.repeat(server.config.maxFrame + 1));
    expect(await closed).toBe(1009);
    const bob = await NativeTestClient.connect(server.ports.native!);
    await bob.register({ username: 'bob', secret: 'segredo-b' });
    await bob.send({ type: 'msg', to: 'alice', text: 'ainda conectada?' });
    await openConversation(alice.page, 'bob');
    await bubble(alice.page, 'ainda conectada?');
    expect(await alice.page.locator('#banner').isHidden()).toBe(true);
    bob.close();
    await alice.context.close();
  });

  it('works at phone width: list or conversation, Shift+Enter for a new line, Esc closes a dialog', async () => {
    const alice = await openApp(browser(), server.ports.web!, { width: 380 });
    await signUp(alice.page, 'alice');
    const bob = await NativeTestClient.connect(server.ports.native!);
    await bob.register({ username: 'bob', secret: 'segredo-b' });
    await alice.page.getByRole('button', { name: 'New chat' }).click();
    await alice.page.getByLabel('Username or 13-digit id').waitFor();
    await alice.page.keyboard.press('Escape');
    await alice.page.locator('dialog').waitFor({ state: 'detached' });
    await newChat(alice.page, 'bob');
    expect(await alice.page.locator('#sidebar').isHidden()).toBe(true);
    const box = alice.page.getByLabel('Message', { exact: true });
    await box.fill('linha um');
    await box.press('Shift+Enter');
    await box.pressSequentially('linha dois');
    await box.press('Enter');
    const got = await bob.waitFor((f) => f.type === 'msg', 'two-line message');
    expect(got.text).toBe('linha um\nlinha dois');
    await alice.page.getByRole('button', { name: 'Back to conversations' }).click();
    await alice.page.locator('#convs .conv', { hasText: 'bob' }).waitFor();
    expect(await alice.page.locator('#pane').isHidden()).toBe(true);
    bob.close();
    await alice.context.close();
  });

  it('a hidden tab sends no read receipt and shows the unread count in its title', async () => {
    const alice = await openApp(browser(), server.ports.web!);
    const bob = await openApp(browser(), server.ports.web!);
    await signUp(alice.page, 'alice');
    await signUp(bob.page, 'bob');
    await newChat(alice.page, 'bob');
    await type(alice.page, 'primeira');
    await openConversation(bob.page, 'alice');
    await waitForMark(alice.page, 'primeira', 'read');

    await bob.page.evaluate(visibility(true));
    await type(alice.page, 'com a aba escondida');
    await expect.poll(() => bob.page.title()).toBe('(1) Mensageiro');
    // A message from bob after that: a read receipt sent before it would arrive before it.
    await type(bob.page, 'estou aqui');
    await bubble(alice.page, 'estou aqui');
    await waitForMark(alice.page, 'com a aba escondida', 'delivered');

    await bob.page.evaluate(visibility(false));
    await waitForMark(alice.page, 'com a aba escondida', 'read');
    await expect.poll(() => bob.page.title()).toBe('Mensageiro');
    await alice.context.close();
    await bob.context.close();
  });
});

/** What the page believes about its tab (headless tabs are always visible), as a script. */
const visibility = (hidden: boolean) => `
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => '${hidden ? 'hidden' : 'visible'}' });
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => ${hidden} });
  document.dispatchEvent(new Event('visibilitychange'));
`;
