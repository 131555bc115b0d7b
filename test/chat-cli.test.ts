import { describe, expect, it } from 'vitest';
import { cliBed, exitsWith, signedIn } from './helpers/cli-bed.js';
import type { CliProcess } from './helpers/cli-process.js';
import { NativeTestClient, ofType } from './helpers/native-client.js';
import { tempDir } from './helpers/server.js';

const { servers, server, run, chat } = cliBed();

/** Counts lines that match, to wait for the n-th one. */
async function nth(cli: CliProcess, match: (l: string) => boolean, n: number, what: string): Promise<string> {
  await cli.waitLine(() => cli.lines.filter(match).length >= n, what);
  return cli.lines.filter(match)[n - 1]!;
}

describe('mensageiro chat (native)', () => {
  it('two profiles chat both ways; after a restart, history, contacts and groups are all there', async () => {
    const s = await server();
    const home = tempDir();
    const port = s.ports.native!;
    const alice = chat('alice', home, port, ['--username', 'alice']);
    const bob = chat('bob', home, port, ['--username', 'bob']);
    await signedIn(alice, 'alice signed in');
    await signedIn(bob, 'bob signed in');

    alice.type('/add bob bob');
    await alice.waitLine((l) => l.startsWith('* bob is '), 'contact added');
    alice.type('@bob oi bob');
    await alice.waitLine((l) => /me → bob: oi bob ✓/.test(l), 'ack mark');
    expect(await bob.waitLine((l) => l.endsWith(': oi bob'), 'message at bob')).toMatch(
      /^\[\d\d:\d\d\] alice: oi bob$/,
    );
    bob.type('/add alice alice');
    await bob.waitLine((l) => l.startsWith('* alice is '), 'bob adds alice');
    bob.type('@alice oi alice, tudo bem?');
    expect(await alice.waitLine((l) => l.includes('oi alice'), 'reply at alice')).toMatch(
      /\] bob: oi alice, tudo bem\?$/,
    );
    alice.type('/group duo bob');
    await alice.waitLine((l) => l.startsWith('* group duo'), 'group created');

    alice.type('/quit');
    expect(await alice.exited).toBe(0);
    const again = chat('alice', home, port);
    await signedIn(again, 'alice again');
    expect(again.lines.some((l) => /me → bob: oi bob ✓✓/.test(l))).toBe(true);
    expect(again.lines.some((l) => l.endsWith('bob: oi alice, tudo bem?'))).toBe(true);
    expect(again.lines.find((l) => l.startsWith('* signed in'))).toMatch(/signed in as alice \(id \d{13}\)/);
    again.type('/contacts');
    await again.waitLine((l) => /^bob: \d{13} \(bob\)$/.test(l), 'contacts survive');
    again.type('/groups');
    await again.waitLine((l) => /^duo \(id \d{13}\): me, bob$/.test(l), 'groups survive');
    again.type('/history bob');
    await nth(again, (l) => l.includes('oi bob'), 2, 'history listing');
  }, 60_000);

  it('queues a message while the server is down and delivers it exactly once when it is back', async () => {
    const dataDir = tempDir();
    const first = await server({ data: dataDir });
    const port = first.ports.native!;
    const home = tempDir();
    const alice = chat('alice', home, port, ['--username', 'alice2']);
    await signedIn(alice, 'alice');
    const bob = await NativeTestClient.connect(port);
    const welcome = await bob.register({ username: 'bob2', acks: true });
    bob.close();
    await first.close();
    servers.splice(servers.indexOf(first), 1);
    await alice.waitLine((l) => l.includes('disconnected'), 'alice sees the drop');

    alice.type(`@${welcome.id} escrito sem servidor`);
    await alice.waitLine((l) => l.includes('escrito sem servidor') && l.includes('(queued)'), 'queued mark');
    await server({ data: dataDir, nativePort: port });
    await alice.waitLine(
      (l) => /me → \d{13}: escrito sem servidor ✓/.test(l),
      'sent after the server came back',
    );

    const back = await NativeTestClient.connect(port);
    await back.send({ type: 'login', id: welcome.id, acks: true });
    await back.waitFor((f) => f.type === 'msg' && f.text === 'escrito sem servidor', 'delivery');
    await back.send({ type: 'ping' });
    await back.waitFor(ofType('pong'), 'pong');
    expect(back.frames.filter((f) => f.type === 'msg' && f.text === 'escrito sem servidor')).toHaveLength(1);
    back.close();
  }, 60_000);

  it('moves the receipt mark from sent to delivered to read, and runs a group of three', async () => {
    const s = await server();
    const home = tempDir();
    const port = s.ports.native!;
    const [ana, beto, caio] = ['ana', 'beto', 'caio'].map((name) =>
      chat(name, home, port, ['--username', name]),
    );
    for (const cli of [ana!, beto!, caio!]) await signedIn(cli, 'signed in');

    ana!.type('@beto primeira');
    await ana!.waitLine((l) => l.endsWith('me → beto: primeira ✓'), 'sent');
    await ana!.waitLine((l) => l === '* ✓✓ delivered to beto: 1 message', 'delivered');
    await beto!.waitLine((l) => l.endsWith(': primeira'), 'beto got it');
    beto!.type('/read');
    await beto!.waitLine((l) => l.startsWith('* read 1 from'), 'beto read');
    await ana!.waitLine((l) => l === '* ✓✓ read by beto: 1 message', 'read mark');

    ana!.type('/group trio beto caio');
    for (const cli of [ana!, beto!, caio!])
      await cli.waitLine((l) => l.startsWith('* group trio'), 'group notice');
    beto!.type('@trio oi trio');
    await ana!.waitLine((l) => l.endsWith(' @ trio: oi trio'), 'group message at ana');
    await caio!.waitLine((l) => l.endsWith(' @ trio: oi trio'), 'group message at caio');
    await beto!.waitLine(
      (l) => l === '* ✓✓ delivered to everyone in trio: 1 message',
      'delivered to the whole group',
    );
    caio!.type('@trio oi de volta');
    await ana!.waitLine((l) => l.endsWith('] caio @ trio: oi de volta'), 'caio to the group, by name');
    expect(caio!.lines.some((l) => l.includes('@ trio: oi de volta'))).toBe(false);
  }, 60_000);
});

describe('one-shot commands', () => {
  it('send exits 0 after the durable ack, and non-zero with a clear message otherwise', async () => {
    const s = await server();
    const home = tempDir();
    const addr = `127.0.0.1:${s.ports.native}`;
    const register = run([
      'register',
      '--profile',
      'rui',
      '--username',
      'rui',
      '--server',
      addr,
      '--home',
      home,
    ]);
    await exitsWith(register, 0);
    expect(register.stdout).toMatch(/^registered rui \(id \d{13}\) as profile rui/);
    const other = run([
      'register',
      '--profile',
      'sol',
      '--username',
      'sol',
      '--server',
      addr,
      '--home',
      home,
    ]);
    await exitsWith(other, 0);

    const ok = run(['send', 'sol', 'olá', 'sol', '--profile', 'rui', '--server', addr, '--home', home]);
    await exitsWith(ok, 0);
    expect(ok.stdout).toMatch(/^sent to sol \(message \d+\)/);
    const history = run(['history', 'sol', '--profile', 'rui', '--home', home]);
    await exitsWith(history, 0);
    expect(history.stdout).toMatch(/me → sol: olá sol \(sent\)/);

    const unknown = run(['send', 'ninguem', 'oi', '--profile', 'rui', '--server', addr, '--home', home]);
    expect(await unknown.exited).not.toBe(0);
    expect(unknown.stderr).toContain('unknown recipient ninguem');

    await s.close();
    servers.splice(0);
    const down = run(['send', 'sol', 'oi', '--profile', 'rui', '--server', addr, '--home', home]);
    expect(await down.exited).not.toBe(0);
    expect(down.stderr).toContain(`cannot reach ${addr} (connect ECONNREFUSED`);
  }, 60_000);
});

describe('mensageiro chat --dialect zap', () => {
  it('registers with 01, and exchanges messages with a native client', async () => {
    const s = await server();
    const home = tempDir();
    const zap = chat('zapper', home, s.ports.zap!, ['--dialect', 'zap']);
    const line = await signedIn(zap, 'zap registration');
    const zapId = Number(/id (\d{13})/.exec(line)![1]);
    const native = await NativeTestClient.connect(s.ports.native!);
    const welcome = await native.register({ acks: true });
    await native.send({ type: 'msg', to: zapId, text: 'oi do nativo', cid: 'n1' });
    await zap.waitLine((l) => l.endsWith(`${welcome.id}: oi do nativo`), 'native message in the zap UI');
    zap.type(`@${welcome.id} oi do zap`);
    const got = await native.waitFor(ofType('msg'), 'zap message at the native client');
    expect(got).toMatchObject({ id: zapId, text: 'oi do zap' });
    await zap.waitLine((l) => l.endsWith('oi do zap ✓'), 'written mark');
    zap.type('/who');
    await zap.waitLine(
      (l) => l.includes('/who is not available on the zap dialect'),
      'feature refused clearly',
    );
    native.close();
  }, 60_000);
});
