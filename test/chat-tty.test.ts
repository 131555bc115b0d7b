import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { NativeTestClient } from './helpers/native-client.js';
import { CLI } from './helpers/server-process.js';
import { startTestServer, tempDir, type TestServer } from './helpers/server.js';

const hasTmux = (() => {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    console.warn('SKIPPED: tmux is not installed, so the terminal (TTY) chat test cannot run');
    return false;
  }
})();

const session = `mensageiro-tty-${process.pid}`;
let server: TestServer | null = null;
afterEach(async () => {
  if (hasTmux) execFileSync('tmux', ['kill-session', '-t', session], { stdio: 'ignore' });
  await server?.close();
});

/** The visible screen; with `colours`, the escape sequences too. */
const screen = (colours = false) =>
  execFileSync('tmux', ['capture-pane', '-p', ...(colours ? ['-e'] : []), '-t', session], {
    encoding: 'utf8',
  });

/** Runs `mensageiro chat alice` in a detached tmux window of 120×20. */
function startChat(port: number): void {
  const command = [
    process.execPath,
    CLI,
    'chat',
    'alice',
    '--username',
    'alice',
    '--server',
    `127.0.0.1:${port}`,
  ]
    .concat(['--home', tempDir()])
    .map((part) => `'${part}'`)
    .join(' ');
  execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '120', '-y', '20', command]);
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let tries = 0; tries < 150; tries++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}; screen:\n${screen()}`);
}

describe('mensageiro chat in a real terminal', () => {
  it.skipIf(!hasTmux)(
    'prints incoming messages above the prompt without garbling what is being typed',
    async () => {
      server = await startTestServer();
      startChat(server.ports.native!);
      await until(() => screen().includes('signed in as alice'), 'the chat to sign in');
      execFileSync('tmux', ['send-keys', '-t', session, '-l', '@bob meio digitado']);
      await until(() => screen().includes('alice> @bob meio digitado'), 'the half-typed line');

      const bob = await NativeTestClient.connect(server.ports.native!);
      await bob.register({ username: 'bob' });
      await bob.send({ type: 'msg', to: 'alice', text: 'chegou enquanto você digitava', cid: 'b1' });
      await until(() => screen().includes('chegou enquanto você digitava'), 'the incoming message');

      const lines = screen()
        .split('\n')
        .map((l) => l.trimEnd())
        .filter(Boolean);
      const incoming = lines.findIndex((l) => l.includes('chegou enquanto você digitava'));
      expect(lines[incoming]).toMatch(/^\[\d\d:\d\d\] bob: chegou enquanto você digitava$/);
      // The prompt, now naming the conversation opened by the message, is redrawn below it with
      // what was typed so far, intact.
      expect(lines[lines.length - 1]).toBe('alice → bob> @bob meio digitado');
      expect(incoming).toBe(lines.length - 2);
      bob.close();
    },
  );

  it.skipIf(!hasTmux)(
    'rewrites the mark of a sent message in place as it is delivered and read',
    async () => {
      server = await startTestServer();
      const bob = await NativeTestClient.connect(server.ports.native!);
      await bob.register({ username: 'bob', acks: true });
      startChat(server.ports.native!);
      await until(() => screen().includes('signed in as alice'), 'the chat to sign in');
      for (const text of ['um', 'dois']) {
        execFileSync('tmux', ['send-keys', '-t', session, '-l', `@bob ${text}`]);
        execFileSync('tmux', ['send-keys', '-t', session, 'Enter']);
      }
      const got = await bob.waitForCount((f) => f.type === 'msg', 2, 'both messages');
      await bob.send({ type: 'ack', seq: got[1]!.seq });
      await bob.send({ type: 'read', conv: got[1]!.id, mid: got[1]!.mid });
      const blue = '\x1b[34m✓✓';
      await until(
        () =>
          screen(true)
            .split('\n')
            .filter((l) => l.includes(blue)).length === 2,
        'both marks blue',
      );
      const mine = screen()
        .split('\n')
        .filter((l) => l.includes('me → bob'));
      expect(mine.map((l) => l.replace(/^\[\d\d:\d\d\] /, '').trimEnd())).toEqual([
        'me → bob: um ✓✓',
        'me → bob: dois ✓✓',
      ]);
      expect(screen()).not.toContain('* ✓✓');
      bob.close();
    },
  );
});
