import { afterEach, beforeEach, expect, it } from 'vitest';
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
    expect(alice.dialogs).toEqual([]);
    await alice.context.close();
    await bob.context.close();
  });
});
