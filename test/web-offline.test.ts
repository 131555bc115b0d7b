import { expect, it } from 'vitest';
import { NativeTestClient, ofType } from './helpers/native-client.js';
import { startTestServer } from './helpers/server.js';
import {
  bubble,
  describeBrowser,
  serverPerTest,
  newChat,
  openApp,
  openConversation,
  signUp,
  type,
  waitForMark,
} from './helpers/browser.js';

const t = serverPerTest();

/** A TCP native user that signs in with a secret, so it can come back after a restart. */
async function nativeUser(port: number, username: string, mode: 'register' | 'login') {
  const client = await NativeTestClient.connect(port);
  t.closers.push(() => client.close());
  await client.send({ type: mode, username, secret: 'segredo-tcp', acks: true });
  const welcome = await client.waitFor((f) => f.type === 'welcome' || f.type === 'error', 'welcome');
  expect(welcome.type).toBe('welcome');
  return client;
}

describeBrowser('web client offline and across reloads', (browser) => {
  it('a message typed while the server is down is delivered exactly once after it is back', async () => {
    const alice = await openApp(browser(), t.server.ports.web!);
    t.closers.push(() => alice.context.close());
    await signUp(alice.page, 'alice');
    let bob = await nativeUser(t.server.ports.native!, 'bob', 'register');
    await newChat(alice.page, 'bob');
    await type(alice.page, 'antes da queda');
    const before = await bob.waitFor((f) => f.type === 'msg' && f.text === 'antes da queda', 'first at bob');
    await bob.send({ type: 'ack', seq: before.seq });
    await waitForMark(alice.page, 'antes da queda', 'delivered');

    const { dataDir, config } = t.server;
    await t.server.close();
    await alice.page.locator('#banner', { hasText: /Offline|Connecting/ }).waitFor();
    await type(alice.page, 'durante a queda');
    await waitForMark(alice.page, 'durante a queda', 'queued');

    t.server = await startTestServer({
      data: dataDir,
      webPort: config.webPort === 0 ? t.server.ports.web : config.webPort,
      nativePort: t.server.ports.native,
    });
    bob = await nativeUser(t.server.ports.native!, 'bob', 'login');
    const got = await bob.waitFor(
      (f) => f.type === 'msg' && f.text === 'durante a queda',
      'the queued message',
    );
    await bob.send({ type: 'ack', seq: got.seq });
    await waitForMark(alice.page, 'durante a queda', 'delivered');
    await alice.page.locator('#banner').waitFor({ state: 'hidden' });
    // A round trip after the ack: anything sent twice would have arrived by now.
    await bob.send({ type: 'ping' });
    await bob.waitFor(ofType('pong'), 'pong');
    expect(bob.frames.filter((f) => f.type === 'msg' && f.text === 'durante a queda')).toHaveLength(1);
    expect(await alice.page.locator('.bubble', { hasText: 'durante a queda' }).count()).toBe(1);
  });

  it('a reload keeps the session, the history and the unsent queue', async () => {
    const alice = await openApp(browser(), t.server.ports.web!);
    t.closers.push(() => alice.context.close());
    await signUp(alice.page, 'alice');
    const bob = await nativeUser(t.server.ports.native!, 'bob', 'register');
    await newChat(alice.page, 'bob');
    await type(alice.page, 'primeira');
    await bob.waitFor((f) => f.type === 'msg' && f.text === 'primeira', 'first at bob');
    await bob.send({ type: 'msg', to: 'alice', text: 'resposta do bob', cid: 'b1' });
    await bubble(alice.page, 'resposta do bob');

    // The page comes back with its socket held (never answered): the app stays offline.
    let passThrough = false;
    await alice.context.routeWebSocket(/\/ws$/, (socket) => {
      if (passThrough) socket.connectToServer();
    });
    await alice.page.reload();
    await alice.page.locator('#me', { hasText: 'alice' }).waitFor();
    await openConversation(alice.page, 'bob');
    await bubble(alice.page, 'primeira');
    await bubble(alice.page, 'resposta do bob');
    await type(alice.page, 'na fila');
    await waitForMark(alice.page, 'na fila', 'queued');

    // Reloaded again with the socket let through: the queue survived and goes out once.
    passThrough = true;
    await alice.page.reload();
    await openConversation(alice.page, 'bob');
    await waitForMark(alice.page, 'na fila', 'sent');
    await bob.send({ type: 'msg', to: 'alice', text: 'depois do reload', cid: 'b2' });
    await bubble(alice.page, 'depois do reload');
    await bob.send({ type: 'ping' });
    await bob.waitFor(ofType('pong'), 'pong');
    expect(bob.frames.filter((f) => f.type === 'msg' && f.text === 'na fila')).toHaveLength(1);
    expect(await alice.page.locator('.bubble', { hasText: 'resposta do bob' }).count()).toBe(1);
  });

  it('sign out forgets the session: a reload shows the sign-in form', async () => {
    const alice = await openApp(browser(), t.server.ports.web!);
    t.closers.push(() => alice.context.close());
    await signUp(alice.page, 'alice');
    await alice.page.getByRole('button', { name: 'Sign out' }).click();
    await alice.page.getByRole('button', { name: 'Sign in' }).waitFor();
    await alice.page.reload();
    await alice.page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await alice.page.locator('#main').isHidden()).toBe(true);
  });
});
