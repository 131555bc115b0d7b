import { afterEach, expect } from 'vitest';
import { CliProcess } from './cli-process.js';
import { startTestServer, type TestServer } from './server.js';

/**
 * Servers and CLI processes for one test file, stopped after each test: `server()` starts a
 * real server on port 0, `run()` the real CLI, `chat()` its chat command.
 */
export function cliBed() {
  const servers: TestServer[] = [];
  const processes: CliProcess[] = [];
  afterEach(async () => {
    for (const p of processes.splice(0)) await p.kill();
    for (const s of servers.splice(0)) await s.close();
  });
  const run = (args: string[]): CliProcess => {
    const cli = new CliProcess(args);
    processes.push(cli);
    return cli;
  };
  return {
    servers,
    async server(flags: Record<string, unknown> = {}): Promise<TestServer> {
      const s = await startTestServer(flags);
      servers.push(s);
      return s;
    },
    run,
    chat(profile: string, home: string, port: number, extra: string[] = []): CliProcess {
      return run(['chat', profile, '--server', `127.0.0.1:${port}`, '--home', home, ...extra]);
    },
  };
}

/** The exit code, with the output in the failure message when it is not the expected one. */
export async function exitsWith(cli: CliProcess, code: number): Promise<void> {
  const actual = await cli.exited;
  expect({ code: actual, out: actual === code ? '' : cli.stdout + cli.stderr }).toEqual({ code, out: '' });
}

export const signedIn = (cli: CliProcess, what: string) =>
  cli.waitLine((l) => l.startsWith('* signed in as'), what);
