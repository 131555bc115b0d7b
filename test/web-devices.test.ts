import { expect, it } from 'vitest';
import { NativeTestClient, ofType, type Frame } from './helpers/native-client.js';
import {
  bubble,
  describeBrowser,
  serverPerTest,
  newChat,
  openApp,
  openConversation,
  signIn,
  signUp,
  type,
} from './helpers/browser.js';

// One test sends a burst of 120 messages; the rate limit is not what this file tests.
const t = serverPerTest({ messageBurst: 0 });

async function nativeUser(username: string): Promise<NativeTestClient> {
  const client = await NativeTestClient.connect(t.server.ports.native!);
  t.closers.push(() => client.close());
  const welcome = await client.register({ username, secret: `segredo-${username}`, acks: true });
  expect(welcome.type).toBe('welcome');
  return client;
}

async function browserUser() {
  const user = await openApp(browser(), t.server.ports.web!);
  t.closers.push(() => user.context.close());
  return user;
}

/** The token this browser keeps in IndexedDB, read the way the app stores it. */
const STORED_TOKEN = `new Promise((resolve, reject) => {
  const open = indexedDB.open('mensageiro');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const get = open.result.transaction('meta').objectStore('meta').get('session');
    get.onsuccess = () => resolve(get.result.value.token);
  };
})`;

let browser: () => import('playwright-core').Browser;

describeBrowser('web client as one device among several', (shared) => {
  browser = shared;

  it('a second browser signed in as the same user sees the conversation from the server, and new messages', async () => {
    const first = await browserUser();
    await signUp(first.page, 'alice');
    const bob = await nativeUser('bob');
    await newChat(first.page, 'bob');
    await type(first.page, 'do primeiro navegador');
    await bob.waitFor((f) => f.type === 'msg' && f.text === 'do primeiro navegador', 'at bob');
    await bob.send({ type: 'msg', to: 'alice', text: 'oi alice', cid: 'b1' });
    await bubble(first.page, 'oi alice');

    const second = await browserUser();
    await signIn(second.page, 'alice');
    await openConversation(second.page, 'bob');
    await bubble(second.page, 'do primeiro navegador');
    await bubble(second.page, 'oi alice');

    await bob.send({ type: 'msg', to: 'alice', text: 'para os dois', cid: 'b2' });
    await bubble(first.page, 'para os dois');
    await bubble(second.page, 'para os dois');
    await type(first.page, 'enviado do primeiro');
    const synced = await bubble(second.page, 'enviado do primeiro');
    expect(await synced.first().getAttribute('class')).toContain('own');
  });

  it('sign out revokes the token on the server', async () => {
    const alice = await browserUser();
    await signUp(alice.page, 'alice');
    const token = (await alice.page.evaluate(STORED_TOKEN)) as string;
    expect(token.length).toBeGreaterThan(10);
    await alice.page.getByRole('button', { name: 'Sign out' }).click();
    await alice.page.getByRole('button', { name: 'Sign in' }).waitFor();
    const thief = await NativeTestClient.connect(t.server.ports.native!);
    t.closers.push(() => thief.close());
    await thief.send({ type: 'login', token });
    expect(await thief.waitFor(ofType('error'), 'refused')).toMatchObject({ code: 'auth_failed' });
  });

  it('a group: create it, see and change its members, rename it, leave it', async () => {
    const bob = await nativeUser('bob');
    const carol = await nativeUser('carol');
    const alice = await browserUser();
    await signUp(alice.page, 'alice');
    await alice.page.getByRole('button', { name: 'New group' }).click();
    await alice.page.getByLabel('Group name').fill('equipe');
    await alice.page.getByLabel(/^Members/).fill('bob');
    await alice.page.getByRole('button', { name: 'OK' }).click();
    await alice.page.locator('#title', { hasText: 'equipe' }).waitFor();
    await bob.waitFor((f) => f.type === 'group' && f.name === 'equipe', 'bob is in the group');

    const changed = (client: NativeTestClient, change: string) =>
      client.waitFor((f: Frame) => f.type === 'group' && f.change === change, `group ${change}`);
    await alice.page.getByRole('button', { name: 'Members' }).click();
    await alice.page.getByRole('list', { name: 'Members' }).getByText('bob').waitFor();
    await alice.page.getByLabel('Add members').fill('carol');
    await alice.page.getByRole('button', { name: 'OK' }).click();
    await changed(carol, 'add');
    await alice.page.locator('#subtitle', { hasText: '3 members' }).waitFor();

    await alice.page.getByRole('button', { name: 'Members' }).click();
    await alice.page.getByRole('button', { name: 'Remove carol' }).click();
    await changed(carol, 'remove');
    await alice.page.locator('#subtitle', { hasText: '2 members' }).waitFor();

    await alice.page.getByRole('button', { name: 'Members' }).click();
    await alice.page.getByLabel('Group name').fill('equipe nova');
    await alice.page.getByRole('button', { name: 'OK' }).click();
    await alice.page.locator('#title', { hasText: 'equipe nova' }).waitFor();

    await alice.page.getByRole('button', { name: 'Members' }).click();
    await alice.page.getByRole('button', { name: 'Leave group' }).click();
    await changed(bob, 'leave');
    await alice.page.locator('#subtitle', { hasText: 'no longer a member' }).waitFor();
  });

  it('a new browser pages older messages in from the server as the user scrolls up', async () => {
    const first = await browserUser();
    await signUp(first.page, 'alice');
    const bob = await nativeUser('bob');
    for (let i = 0; i < 120; i++) await bob.send({ type: 'msg', to: 'alice', text: `mensagem ${i}`, cid: i });
    await bob.waitForCount(ofType('sent'), 120, 'every message stored');
    await first.page
      .locator('#convs .conv', { hasText: 'bob' })
      .locator('.unread', { hasText: '120' })
      .waitFor();

    const second = await browserUser();
    await signIn(second.page, 'alice');
    await openConversation(second.page, 'bob');
    await bubble(second.page, 'mensagem 119');
    const messages = second.page.getByRole('log', { name: 'Messages' });
    await messages.hover();
    for (const oldest of ['mensagem 70', 'mensagem 20', 'mensagem 0']) {
      await second.page.mouse.wheel(0, -100_000);
      await bubble(second.page, oldest);
    }
    expect(await second.page.locator('#messages .bubble').count()).toBe(120);
  });
});
