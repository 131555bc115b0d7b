import { expect, it } from 'vitest';
import { CliProcess } from './helpers/cli-process.js';
import { NativeTestClient, ofType } from './helpers/native-client.js';
import { RawSocket } from './helpers/raw-socket.js';
import { tempDir } from './helpers/server.js';
import { ZapTestClient, z05 } from './helpers/zap-client.js';
import {
  bubble,
  describeBrowser,
  serverPerTest,
  newChat,
  openApp,
  openConversation,
  signUp,
  type,
} from './helpers/browser.js';

const t = serverPerTest();

async function browserUser(name: string) {
  const user = await openApp(browser(), t.server.ports.web!);
  t.closers.push(() => user.context.close());
  await signUp(user.page, name);
  return user;
}

/** The 13-digit id of a username, as any native client can ask it. */
async function idOf(name: string): Promise<number> {
  const native = await NativeTestClient.connect(t.server.ports.native!);
  await native.register();
  await native.send({ type: 'lookup', name });
  const found = await native.waitFor(ofType('lookup'), `lookup ${name}`);
  native.close();
  return found.id as number;
}

const now = () => Math.floor(Date.now() / 1000);
let browser: () => import('playwright-core').Browser;

describeBrowser('web client with the other dialects', (shared) => {
  browser = shared;

  it('a raw native TCP client and a raw zap client talk with a browser user, both ways', async () => {
    const bia = await browserUser('bia');
    const biaId = await idOf('bia');

    const native = await NativeTestClient.connect(t.server.ports.native!);
    t.closers.push(() => native.close());
    await native.register({ username: 'nat', secret: 'segredo-nat', acks: true });
    await native.send({ type: 'msg', to: 'bia', text: 'oi do tcp', cid: 'n1' });
    await openConversation(bia.page, 'nat');
    await bubble(bia.page, 'oi do tcp');
    await type(bia.page, 'oi nat, daqui é a web');
    const reply = await native.waitFor((f) => f.type === 'msg' && f.id === biaId, 'the browser reply');
    expect(reply.text).toBe('oi nat, daqui é a web');

    const zap = await ZapTestClient.connect(t.server.ports.zap!);
    t.closers.push(() => zap.close());
    const zapId = await zap.register();
    await newChat(bia.page, zapId);
    await type(bia.page, 'oi zap');
    const line = await zap.waitLine((l) => l.startsWith('06'), 'the browser message at zap');
    expect(line).toBe(`06${String(biaId).padStart(13, '0')}${zapId}${line.slice(28, 38)}oi zap`);
    await zap.write(`${z05(zapId, String(biaId).padStart(13, '0'), now(), 'oi da web, aqui é o zap')}\n`);
    await bubble(bia.page, 'oi da web, aqui é o zap');
    expect(bia.dialogs).toEqual([]);
  });

  it('a group of a browser user, a terminal profile and a zap client', async () => {
    const home = tempDir();
    const caio = new CliProcess([
      'chat',
      'caio',
      '--server',
      `127.0.0.1:${t.server.ports.native}`,
      '--home',
      home,
      '--username',
      'caio',
    ]);
    t.closers.push(() => caio.child.kill('SIGTERM'));
    await caio.waitLine((l) => l.startsWith('* signed in as'), 'caio signed in');
    const zap = await ZapTestClient.connect(t.server.ports.zap!);
    t.closers.push(() => zap.close());
    const zapId = await zap.register();
    const bia = await browserUser('bia');

    await bia.page.getByRole('button', { name: 'New group' }).click();
    await bia.page.getByLabel('Group name').fill('trio');
    await bia.page.getByLabel(/^Members/).fill(`caio, ${zapId}`);
    await bia.page.getByRole('button', { name: 'OK' }).click();
    await bia.page.locator('#title', { hasText: 'trio' }).waitFor();
    const created = await zap.waitLine((l) => l.startsWith('11'), 'group notice at zap');
    const gid = created.slice(2, 15);
    await caio.waitLine((l) => l.startsWith('* group trio'), 'group notice in the terminal');

    await type(bia.page, 'oi trio');
    await caio.waitLine((l) => l.endsWith(' @ trio: oi trio'), 'the browser message in the terminal');
    await zap.waitLine(
      (l) => l.startsWith(`06`) && l.slice(15, 28) === gid && l.endsWith('oi trio'),
      'at zap',
    );

    caio.type('@trio oi do terminal');
    const fromCaio = await bubble(bia.page, 'oi do terminal');
    await expect(fromCaio.locator('.sender').textContent()).resolves.toBe('caio');
    await zap.write(`${z05(zapId, gid, now(), 'oi do zap')}\n`);
    await bubble(bia.page, 'oi do zap');
    await caio.waitLine((l) => l.endsWith(' @ trio: oi do zap'), 'zap to the group, in the terminal');
  });

  it('a TCP lobby client and a browser in the lobby see each other', async () => {
    const lobby = await RawSocket.connect(t.server.ports.lobby!);
    t.closers.push(() => lobby.close());
    const bia = await browserUser('bia');
    await bia.page.locator('#convs .conv', { hasText: 'Lobby' }).click();
    // Joined: the room's headcount shows (a post before the join would not reach the browser).
    await bia.page.locator('#subtitle', { hasText: 'here' }).waitFor();
    const text = 'oi da sala';
    const payload = Buffer.from(text);
    await lobby.write(Buffer.concat([Buffer.from(String(payload.length).padEnd(64, ' ')), payload]));
    await bubble(bia.page, text);
    await type(bia.page, 'oi do navegador');
    await lobby.until(() => lobby.text.includes(': oi do navegador'), 'the browser post at the TCP lobby');
  });
});
