import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LobbyClient } from '../src/client/lobby-client.js';
import { CliProcess } from './helpers/cli-process.js';
import { CLI } from './helpers/server-process.js';
import { closingServer, fakeZap, silentServer, type FakeServer } from './helpers/conform-fakes.js';
import { startTestServer, tempDir, type TestServer } from './helpers/server.js';

let server: TestServer;
const fakes: FakeServer[] = [];
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await Promise.all(fakes.map((fake) => fake.close()));
  await server.close();
});

async function conform(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string; last: string }> {
  const cli = new CliProcess(['conform', ...args]);
  const code = await cli.exited;
  return { code, stdout: cli.stdout, stderr: cli.stderr, last: cli.lines.at(-1) ?? '' };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function fake(start: Promise<FakeServer>): Promise<number> {
  const started = await start;
  fakes.push(started);
  return started.port;
}

const SUMMARY = /^\d+ passed, \d+ failed, \d+ skipped; score \d+\/\d+ \(\d+\.\d%\)$/;

describe('mensageiro conform (the CLI)', () => {
  it('exits 0 when every required case passes, with the totals on the last line', async () => {
    const run = await conform(['lobby', `127.0.0.1:${server.ports.lobby}`, '--timeout', '2000']);
    expect(run.stdout).toContain('PASS lobby.04.header-byte-length');
    expect(run.last).toMatch(SUMMARY);
    expect(run.stdout).toMatch(/\n9 passed, 0 failed, 0 skipped[^\n]*\n$/);
    expect(run.code).toBe(0);
  });

  it('exits 1 when a required case fails, showing the transcript with LF visible', async () => {
    const port = await fake(fakeZap('pad12'));
    const run = await conform(['zap', `127.0.0.1:${port}`, '--only', 'zap.01,zap.02', '--timeout', '1500']);
    expect(run.stdout).toMatch(/FAIL zap\.01\.register-id/);
    expect(run.stdout).toMatch(/<- "02\d{12}\\n"/);
    expect(run.last).toMatch(/^1 passed, 1 failed, 0 skipped; score 1\/3/);
    expect(run.code).toBe(1);
  });

  it('exits 2 when the target cannot be reached', async () => {
    const run = await conform(['native', `127.0.0.1:${await freePort()}`, '--reporter', 'tap']);
    expect(run.stdout).toContain('Bail out!');
    expect(run.code).toBe(2);
  });

  it('ends within the timeouts against a target that never answers and one that closes at once', async () => {
    for (const start of [silentServer(), closingServer()]) {
      const port = await fake(start);
      const run = await conform(['zap', `127.0.0.1:${port}`, '--timeout', '300', '--reporter', 'json']);
      const report = JSON.parse(run.stdout);
      expect(report.tests).toHaveLength(17);
      expect(report.tests.every((t: { status: string }) => t.status === 'failed')).toBe(true);
      expect(report.score).toBe(0);
      expect(run.stderr).toMatch(/^0 passed, 17 failed, 0 skipped/m);
      expect(run.code).toBe(1);
    }
  });

  it('writes JUnit to --out and prints the totals', async () => {
    const out = path.join(tempDir(), 'junit.xml');
    const run = await conform([
      'native',
      `127.0.0.1:${server.ports.native}`,
      '--reporter',
      'junit',
      '--out',
      out,
    ]);
    expect(fs.readFileSync(out, 'utf8')).toMatch(
      /<testsuite name="native 127.0.0.1:\d+" tests="6" failures="0"/,
    );
    expect(run.last).toMatch(/^6 passed, 0 failed, 0 skipped/);
    expect(run.code).toBe(0);
  });

  it('--list prints one id per line with its title; --only narrows it', async () => {
    const run = await conform(['p2p', '--list', '--only', 'p2p.0']);
    expect(run.stdout.split('\n')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^p2p\.01\.list-names-others {2}LIST names/)]),
    );
    expect(run.stdout).not.toContain('p2p.10');
  });

  it('--list into a pipe whose reader has gone (`| head`) exits 0 without an error', () => {
    // `true` exits without reading, so every write of the list meets a closed pipe (EPIPE).
    const run = spawnSync('bash', ['-c', `set -o pipefail; node '${CLI}' conform zap --list | true`], {
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('refuses mm without --users, and a target that is not host:port', async () => {
    expect((await conform(['mm', '127.0.0.1:3333'])).stderr).toContain('--users alice,bob');
    expect((await conform(['zap', 'localhost'])).stderr).toContain('not host:port');
  });

  it('--targets grades a class into a CSV of targets by cases and a summary table', async () => {
    const dir = tempDir();
    const list = path.join(dir, 'turma.csv');
    const down = await freePort();
    fs.writeFileSync(list, `name,target\nana,127.0.0.1:${server.ports.lobby}\nbeto,127.0.0.1:${down}\n`);
    const out = path.join(dir, 'grades.csv');
    const reports = path.join(dir, 'reports');
    const run = await conform([
      'lobby',
      '--targets',
      list,
      '--out',
      out,
      '--timeout',
      '1500',
      '--reports',
      reports,
    ]);
    const rows = fs.readFileSync(out, 'utf8').trim().split('\n');
    expect(rows[0]).toMatch(
      /^name,target,status,score,max_score,passed,failed,skipped,lobby\.01\.echo-to-sender,/,
    );
    expect(rows[1]).toMatch(/^ana,127\.0\.0\.1:\d+,ok,17,17,9,0,0,pass,pass/);
    expect(rows[2]).toMatch(/^beto,127\.0\.0\.1:\d+,unreachable,0,0,/);
    expect(run.stdout).toMatch(/^ana .* 17\/17 .* ok$/m);
    expect(run.stdout).toContain('2 targets: 1 pass every required case, 0 fail one, 1 unreachable');
    expect(fs.readFileSync(path.join(reports, 'ana.txt'), 'utf8')).toMatch(
      /^PASS lobby\.08\.several-clients/m,
    );
    expect(fs.readFileSync(path.join(reports, 'beto.txt'), 'utf8')).toContain(
      `cannot reach 127.0.0.1:${down}`,
    );
    expect(run.code).toBe(1);
  });

  it('--serve grades a client that connects, and reports when it leaves', async () => {
    const cli = new CliProcess(['conform', '--serve', 'lobby', '--port', '0', '--timeout', '10000']);
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setInterval(() => {
        const match = /connect it to 127\.0\.0\.1:(\d+)/.exec(cli.stderr);
        if (match) {
          clearInterval(timer);
          resolve(Number(match[1]));
        } else if (cli.child.exitCode !== null) reject(new Error(cli.stderr));
      }, 50);
    });
    const client = new LobbyClient();
    await client.connect('127.0.0.1', port);
    client.say('oi');
    client.leave();
    expect(await cli.exited).toBe(0);
    expect(cli.stdout).toContain('PASS lobby-client.01.header-64');
    expect(cli.lines.at(-1)).toMatch(/^3 passed, 0 failed, 0 skipped/);
  });
});
