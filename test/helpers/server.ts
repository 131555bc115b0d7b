import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type ServerConfig } from '../../src/server/config.js';
import { startServer, type RunningServer, type ServerParts } from '../../src/server/server.js';

export function tempDir(prefix = 'mensageiro-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface TestServer extends RunningServer {
  dataDir: string;
  config: ServerConfig;
}

/** A real server on loopback, every listener on port 0, with a fresh data directory. */
export async function startTestServer(
  flags: Partial<Record<keyof ServerConfig, unknown>> = {},
  /** A store of the test's own, say one that is slow on purpose. */
  parts: ServerParts = {},
): Promise<TestServer> {
  const dataDir = (flags.data as string | undefined) ?? tempDir();
  const config = loadConfig({
    flags: {
      host: '127.0.0.1',
      data: dataDir,
      nativePort: 0,
      mmPort: 0,
      zapPort: 0,
      p2pPort: 0,
      lobbyPort: 0,
      metricsPort: 0,
      webPort: 0,
      logLevel: 'silent',
      ...flags,
    },
  });
  const server = await startServer(config, parts);
  return { ...server, dataDir, config };
}
