import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../src/client/client.js';
import type { IncomingMessage, IncomingRead } from '../src/client/client-types.js';
import { cliBed, exitsWith, signedIn } from './helpers/cli-bed.js';
import type { CliProcess } from './helpers/cli-process.js';
import { tempDir } from './helpers/server.js';

// One account on two terminal profiles and an SDK client, through the real CLI.

const bed = cliBed();
const clients: Client[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

function sdk(port: number, options: ConstructorParameters<typeof Client>[0]): Client {
  const c = new Client({ ...options, port });
  clients.push(c);
  return c;
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let tries = 0; tries < 300; tries++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const count = (cli: CliProcess, match: (l: string) => boolean) => cli.lines.filter(match).length;

describe('one account on many devices', () => {
  it('delivers once to each device, shares reads and what each sends, and rebuilds a fresh profile from the server', async () => {
    const s = await bed.server();
    const port = s.ports.native!;
    const addr = `127.0.0.1:${port}`;
    const home = tempDir();
    const account = ['--username', 'alice', '--secret', 's3cret'];
    await exitsWith(
      bed.run(['register', '--profile', 'desk', ...account, '--server', addr, '--home', home]),
      0,
    );
    await exitsWith(bed.run(['login', 'laptop', ...account, '--server', addr, '--home', home]), 0);
    const desk = bed.chat('desk', home, port);
    const laptop = bed.chat('laptop', home, port);
    await signedIn(desk, 'desk');
    await signedIn(laptop, 'laptop');
    const phone = sdk(port, { identity: { username: 'alice', secret: 's3cret' }, deviceName: 'phone' });
    await phone.connect();
    const onPhone: IncomingMessage[] = [];
    const readsOnPhone: IncomingRead[] = [];
    phone.on('message', (m) => onPhone.push(m));
    phone.on('read', (r) => readsOnPhone.push(r));
    const bob = sdk(port, { register: { username: 'bob', secret: 'b0b' } });
    await bob.connect();

    await bob.send('alice', 'oi alice');
    for (const cli of [desk, laptop])
      await cli.waitLine((l) => l.endsWith('] bob: oi alice'), 'on each terminal');
    await until(() => onPhone.some((m) => m.text === 'oi alice'), 'on the SDK client');

    desk.type('/read bob');
    await laptop.waitLine((l) => l === '* read on another device: bob', 'the read reaches the laptop');
    laptop.type('/chats');
    expect(await laptop.waitLine((l) => l.startsWith('bob'), 'the conversation list')).toMatch(/^bob: \[/);
    await until(() => readsOnPhone.length === 1, 'the read reaches the SDK client');

    laptop.type('@bob do laptop');
    await desk.waitLine((l) => /me → bob: do laptop ✓/.test(l), 'sent from the laptop, on the desk');
    await until(
      () => onPhone.some((m) => m.text === 'do laptop' && m.from === phone.id),
      'on the SDK client',
    );
    await phone.send('bob', 'do telefone');
    for (const cli of [desk, laptop])
      await cli.waitLine(
        (l) => /me → bob: do telefone ✓/.test(l),
        'sent from the SDK client, on each terminal',
      );

    await bob.lookup('alice'); // everything bob's sends caused has been written by now
    for (const cli of [desk, laptop])
      expect(count(cli, (l) => /^\[\d\d:\d\d\] bob: oi alice$/.test(l))).toBe(1);
    expect(onPhone.filter((m) => m.text === 'oi alice')).toHaveLength(1);
    expect(count(desk, (l) => /^\[\d\d:\d\d\] me → bob: do laptop/.test(l))).toBe(1);
    expect(count(laptop, (l) => /^\[\d\d:\d\d\] me → bob: do laptop/.test(l))).toBe(1);

    const freshHome = tempDir();
    await exitsWith(bed.run(['login', 'tablet', ...account, '--server', addr, '--home', freshHome]), 0);
    const tablet = bed.chat('tablet', freshHome, port);
    await tablet.waitLine((l) => /^\* 1 conversations and 3 messages from the server/.test(l), 'rebuilt');
    tablet.type('/history bob');
    await tablet.waitLine((l) => /me → bob: do telefone/.test(l), 'the history, read back');
    expect(tablet.lines.filter((l) => / (bob: oi alice|me → bob: do laptop ✓)/.test(l))).toHaveLength(2);
  }, 90_000);

  it('changes groups from the terminal, and a kicked member gets nothing after the kick', async () => {
    const s = await bed.server();
    const port = s.ports.native!;
    const home = tempDir();
    const ana = bed.chat('ana', home, port, ['--username', 'ana']);
    await signedIn(ana, 'ana');
    const [bia, caio] = [
      sdk(port, { register: { username: 'bia' } }),
      sdk(port, { register: { username: 'caio' } }),
    ];
    await Promise.all([bia.connect(), caio.connect()]);
    const atCaio: string[] = [];
    caio.on('message', (m) => atCaio.push(m.text));

    ana.type('/group time bia');
    await ana.waitLine((l) => l.startsWith('* group time'), 'created');
    ana.type('/invite time caio');
    await ana.waitLine((l) => l === '* me added caio to time', 'invited');
    ana.type('/rename time equipe');
    await ana.waitLine((l) => l === '* me renamed the group to equipe', 'renamed');
    ana.type('/members equipe');
    await ana.waitLine((l) => l === '* equipe: me (admin), bia, caio', 'members');
    ana.type('@equipe antes');
    await until(() => atCaio.includes('antes'), 'caio in the group');
    ana.type('/kick equipe caio');
    await ana.waitLine((l) => l === '* me removed caio from equipe', 'kicked');
    ana.type('@equipe depois');
    await ana.waitLine((l) => /me → equipe: depois ✓/.test(l), 'sent after the kick');
    ana.type('/name Ana Maria');
    await ana.waitLine((l) => l === '* others now see you as Ana Maria', 'display name');
    const named = new Promise<IncomingMessage>((resolve) => bia.once('message', resolve));
    ana.type('@bia oi');
    expect((await named).fromName).toBe('Ana Maria');
    await caio.lookup('ana');
    expect(atCaio).toEqual(['antes']);
    ana.type('/leave equipe');
    await ana.waitLine((l) => l === '* me left equipe', 'left');
  }, 90_000);

  it('mensageiro profile sets the names, lists the devices and signs one out', async () => {
    const s = await bed.server();
    const addr = `127.0.0.1:${s.ports.native}`;
    const home = tempDir();
    const where = ['--server', addr, '--home', home];
    const account = ['--username', 'rui', '--secret', 'pw'];
    await exitsWith(bed.run(['register', '--profile', 'one', ...account, ...where]), 0);
    await exitsWith(bed.run(['login', 'two', ...account, ...where]), 0);
    const set = bed.run(['profile', 'set', '--profile', 'one', '--display-name', 'Rui B', ...where]);
    await exitsWith(set, 0);
    expect(set.stdout).toBe('you are rui (Rui B)\n');
    const devices = bed.run(['profile', 'devices', '--profile', 'two', ...where]);
    await exitsWith(devices, 0);
    expect(devices.lines.map((l) => l.replace(/, since .*/, ''))).toEqual([
      '1: one (terminal)',
      '2 (this one): two (terminal)',
    ]);
    await exitsWith(bed.run(['profile', 'logout', '--profile', 'two', ...where]), 0);
    const after = bed.run(['send', 'rui', 'still here?', '--profile', 'two', ...where]);
    await exitsWith(after, 1);
    expect(after.stderr).toContain('cannot sign in');
    await exitsWith(bed.run(['send', 'rui', 'one still works', '--profile', 'one', ...where]), 0);
  }, 90_000);
});
