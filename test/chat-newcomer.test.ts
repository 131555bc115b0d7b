import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliBed, exitsWith, signedIn } from './helpers/cli-bed.js';
import { NativeTestClient, ofType } from './helpers/native-client.js';
import { tempDir } from './helpers/server.js';

// What a newcomer tripped over in the terminal client, each driven through the real CLI.

const { server, run, chat } = cliBed();

const profileFiles = (home: string) => (fs.existsSync(home) ? fs.readdirSync(home) : []);

describe('a second device of an account', () => {
  it('signs a fresh profile in with username and secret instead of registering, and says plainly when it cannot', async () => {
    const s = await server();
    const addr = `127.0.0.1:${s.ports.native}`;
    const first = run(
      ['register', '--profile', 'dave', '--username', 'dave', '--secret', 's3cret'].concat([
        '--server',
        addr,
        '--home',
        tempDir(),
      ]),
    );
    await exitsWith(first, 0);
    const id = /id (\d{13})/.exec(first.stdout)![1];

    const laptop = chat('dave', tempDir(), s.ports.native!, ['--username', 'dave', '--secret', 's3cret']);
    expect(await signedIn(laptop, 'the second device')).toContain(`signed in as dave (id ${id})`);
    laptop.endInput();
    await exitsWith(laptop, 0);

    const phoneHome = tempDir();
    const login = run([
      'login',
      'phone',
      '--username',
      'dave',
      '--secret',
      's3cret',
      '--server',
      addr,
      '--home',
      phoneHome,
    ]);
    await exitsWith(login, 0);
    expect(login.stdout).toContain(`signed in as dave (id ${id})`);
    const bob = await NativeTestClient.connect(s.ports.native!);
    await bob.register({ username: 'bob', acks: true });
    const send = run([
      'send',
      'bob',
      'do telefone',
      '--profile',
      'phone',
      '--server',
      addr,
      '--home',
      phoneHome,
    ]);
    await exitsWith(send, 0);
    expect((await bob.waitFor(ofType('msg'), 'the message from the phone')).id).toBe(Number(id));
    bob.close();

    const wrongHome = tempDir();
    const wrong = chat('dave', wrongHome, s.ports.native!, ['--username', 'dave', '--secret', 'nope']);
    await exitsWith(wrong, 1);
    expect(wrong.stdout).toContain('* cannot sign in: wrong account or secret');
    expect(profileFiles(wrongHome)).toEqual([]);
    const taken = chat('other', tempDir(), s.ports.native!, ['--username', 'dave']);
    await exitsWith(taken, 1);
    expect(taken.stdout).toMatch(
      /username dave is taken; if it is yours, sign in to it: mensageiro login other/,
    );
  }, 60_000);
});

describe('mensageiro register', () => {
  it('prints one clear line on a taken or invalid name, exits 1 and leaves no profile behind', async () => {
    const s = await server();
    const addr = `127.0.0.1:${s.ports.native}`;
    const home = tempDir();
    await exitsWith(
      run(['register', '--profile', 'carol', '--username', 'carol', '--server', addr, '--home', home]),
      0,
    );
    for (const name of ['carol', 'not a name!']) {
      const again = run([
        'register',
        '--profile',
        'carol2',
        '--username',
        name,
        '--server',
        addr,
        '--home',
        home,
      ]);
      await exitsWith(again, 1);
      const lines = again.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        name === 'carol' ? /^mensageiro: username carol is taken/ : /^mensageiro: refused: a username is/,
      );
      expect(profileFiles(home)).toEqual(['carol.db']);
    }
    const reuse = run([
      'register',
      '--profile',
      'carol',
      '--username',
      'carol9',
      '--server',
      addr,
      '--home',
      home,
    ]);
    await exitsWith(reuse, 1);
    expect(reuse.stderr).toMatch(/profile carol already holds account carol/);
  }, 60_000);
});

describe('groups by name', () => {
  it('lets the creator use the group name in @, /history and mensageiro send', async () => {
    const s = await server();
    const home = tempDir();
    const port = s.ports.native!;
    const bob = await NativeTestClient.connect(port);
    await bob.register({ username: 'bob2', acks: true });
    const carol = chat('carol', home, port, ['--username', 'carol2']);
    await signedIn(carol, 'carol');
    carol.type('/group team bob2');
    await carol.waitLine((l) => l.startsWith('* group team'), 'the group notice');
    carol.type('@team hello');
    await carol.waitLine((l) => l.includes('me → team: hello ✓'), 'sent to the group');
    carol.type('/history team');
    await carol.waitLine(
      () => carol.lines.filter((l) => l.includes('me → team: hello')).length >= 2,
      'history',
    );
    carol.endInput();
    await exitsWith(carol, 0);
    const send = run([
      'send',
      'team',
      'from',
      'the',
      'shell',
      '--profile',
      'carol',
      '--server',
      `127.0.0.1:${port}`,
      '--home',
      home,
    ]);
    await exitsWith(send, 0);
    await bob.waitFor((f) => f.type === 'msg' && f.text === 'from the shell', 'the one-shot group message');
    bob.close();
  }, 60_000);
});

describe('piped chat', () => {
  it('runs lines typed before sign-in after it, and exits only once the server has every message', async () => {
    const s = await server();
    const port = s.ports.native!;
    const bob = await NativeTestClient.connect(port);
    await bob.register({ username: 'bob3', acks: true });
    const home = tempDir();
    const piped = chat('carol', home, port, ['--username', 'carol3']);
    for (let i = 1; i <= 5; i++) piped.type(`@bob3 mensagem ${i}`);
    piped.endInput();
    await exitsWith(piped, 0);
    const history = run(['history', 'bob3', '--profile', 'carol', '--home', home]);
    await exitsWith(history, 0);
    expect(history.stdout.match(/\(sent\)|\(delivered\)|\(read\)/g)).toHaveLength(5);
    for (let i = 1; i <= 5; i++) await bob.waitFor((f) => f.text === `mensagem ${i}`, `message ${i}`);
    bob.close();
  }, 60_000);
  it('on a new device with nothing typed, reads back the history from the server before it leaves', async () => {
    const s = await server();
    const port = s.ports.native!;
    const dave = await NativeTestClient.connect(port);
    const welcome = await dave.register({ username: 'dave4', secret: 's3cret', acks: true });
    const bob = await NativeTestClient.connect(port);
    await bob.register({ username: 'bob4', acks: true });
    await bob.send({ type: 'msg', to: welcome.id, text: 'oi dave', cid: 'b1' });
    await dave.waitFor(ofType('msg'), 'the message at dave');
    dave.close();
    bob.close();

    const home = tempDir();
    const laptop = chat('laptop', home, port, ['--username', 'dave4', '--secret', 's3cret']);
    laptop.endInput();
    await exitsWith(laptop, 0);
    expect(laptop.stdout).not.toContain('could not read back');
    const history = run(['history', 'bob4', '--profile', 'laptop', '--home', home]);
    await exitsWith(history, 0);
    expect(history.stdout).toContain('oi dave');
  }, 60_000);
});

describe('a port that speaks another protocol', () => {
  it('is named as such within seconds, with no retry loop and no crash', async () => {
    const s = await server();
    const home = tempDir();
    const register = run([
      'register',
      '--profile',
      'p',
      '--server',
      `127.0.0.1:${s.ports.native}`,
      '--home',
      home,
    ]);
    await exitsWith(register, 0);
    const toMm = run([
      'send',
      '1234567890123',
      'oi',
      '--profile',
      'p',
      '--server',
      `127.0.0.1:${s.ports.mm}`,
      '--home',
      home,
    ]);
    await exitsWith(toMm, 1);
    expect(toMm.stderr).toContain(
      `127.0.0.1:${s.ports.mm} does not speak native (no answer to the sign-in within 5 s)`,
    );

    const nativeOnZap = chat('q', tempDir(), s.ports.zap!);
    await exitsWith(nativeOnZap, 1);
    expect(nativeOnZap.stdout).toContain(`127.0.0.1:${s.ports.zap} does not speak native`);

    const zapOnNative = run([
      'chat',
      'z',
      '--dialect',
      'zap',
      '--port',
      String(s.ports.native),
      '--home',
      tempDir(),
    ]);
    await exitsWith(zapOnNative, 1);
    expect(zapOnNative.stdout).toContain(`127.0.0.1:${s.ports.native} does not speak zap`);
    expect(zapOnNative.stderr).toBe('');
  }, 60_000);
});

describe('the conversation view', () => {
  it('sends plain text to the open conversation, shows a group read only when every member read, and /info per member', async () => {
    const s = await server();
    const home = tempDir();
    const port = s.ports.native!;
    const [ana, beto, caio] = ['ana4', 'beto4', 'caio4'].map((name) =>
      chat(name, home, port, ['--username', name]),
    );
    for (const cli of [ana!, beto!, caio!]) await signedIn(cli, 'signed in');
    ana!.type('/help');
    await ana!.waitLine((l) => l.startsWith('<text>') && l.includes('open conversation'), 'help says it');
    ana!.type('sem destino');
    await ana!.waitLine((l) => l.startsWith('* no open conversation'), 'no conversation yet');
    ana!.type('/open beto4');
    await ana!.waitLine((l) => l === '* plain text now goes to beto4', 'opened');
    ana!.type('texto simples');
    await beto!.waitLine((l) => l.endsWith('] ana4: texto simples'), 'plain text reached beto, by name');
    beto!.type('resposta sem arroba');
    await ana!.waitLine((l) => l.endsWith('] beto4: resposta sem arroba'), 'beto answered the last sender');

    ana!.type('/group trio4 beto4 caio4');
    for (const cli of [beto!, caio!])
      await cli.waitLine((l) => l.startsWith('* group trio4'), 'group notice');
    expect(await ana!.waitLine((l) => l.startsWith('* group trio4'), 'members by name')).toMatch(
      /: me, beto4, caio4$/,
    );
    ana!.type('@trio4 para todos');
    for (const cli of [beto!, caio!])
      await cli.waitLine((l) => l.endsWith('ana4 @ trio4: para todos'), 'group msg');
    beto!.type('/read trio4');
    await beto!.waitLine((l) => l.startsWith('* read 1 from trio4'), 'beto read');
    // What beto sends after reading reaches ana after his read receipt.
    beto!.type('@trio4 li');
    await ana!.waitLine((l) => l.endsWith('beto4 @ trio4: li'), 'after the read');
    ana!.type('/info trio4');
    await ana!.waitLine(
      (l) => l.includes('"para todos"') && l.includes('read by beto4; not yet by caio4'),
      'per member',
    );
    expect(ana!.lines.some((l) => l.startsWith('* ✓✓ read by everyone in trio4'))).toBe(false);
    caio!.type('/read trio4');
    await ana!.waitLine((l) => l === '* ✓✓ read by everyone in trio4: 1 message', 'read by all');
  }, 60_000);

  it('names what it refuses: a bad dialect, a missing profile, flags an existing profile ignores, an unknown /who', async () => {
    const s = await server();
    const home = tempDir();
    const port = s.ports.native!;
    const dialect = run(['chat', 'x', '--dialect', 'foo', '--home', home]);
    await exitsWith(dialect, 1);
    expect(dialect.stderr).toContain('unknown dialect foo; choose native, mm, zap, lobby');
    const history = run(['history', 'alice', '--profile', 'nosuchprofile', '--home', home]);
    await exitsWith(history, 1);
    expect(history.stderr).toContain('no profile nosuchprofile in');
    expect(profileFiles(home)).toEqual([]);

    const alice = chat('alice', home, port, ['--username', 'alice5']);
    await signedIn(alice, 'alice');
    alice.type('/who alice5 nobody');
    await alice.waitLine((l) => l === '* unknown contact nobody', 'unknown name said');
    alice.type('/quit');
    await exitsWith(alice, 0);
    expect(alice.lines.at(-1)).toBe('* bye');
    expect(alice.stdout).not.toContain('reconnecting');
    const renamed = chat('alice', home, port, ['--username', 'someoneelse']);
    await exitsWith(renamed, 1);
    expect(renamed.stderr).toContain('profile alice is already account alice5');

    const zap = run(['chat', 'z', '--dialect', 'zap', '--port', String(s.ports.zap), '--home', home]);
    await signedIn(zap, 'zap');
    zap.type('/help');
    await zap.waitLine((l) => l.startsWith('/quit'), 'zap help');
    expect(zap.lines.filter((l) => /^\/(who|lobby)|^[/@].*username/.test(l))).toEqual([]);
    expect(fs.existsSync(path.join(home, 'z.db'))).toBe(true);
  }, 60_000);
});
