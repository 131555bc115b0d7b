import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NATS_SERVER } from './cluster-bench.js';
import { JETSTREAM_BATCH } from './client-jetstream.js';
import type { Peer } from './peers.js';

/**
 * NATS JetStream as a durable peer: a private nats-server with JetStream on, its own port and
 * store directory (never the machine's shared server on 4222).
 */

/**
 * Whether this nats-server takes `sync_interval: always` (an fsync before each write is
 * acknowledged; the option came after 2.9), asked of the server itself with a test of a config.
 */
function syncAlwaysSupported(): boolean {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-nats-probe-'));
  try {
    const conf = path.join(dir, 'probe.conf');
    fs.writeFileSync(conf, `jetstream {\n  store_dir: "${dir}"\n  sync_interval: always\n}\n`);
    execFileSync(NATS_SERVER, ['-t', '-c', conf], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function jetstreamPeer(pkg: (name: string) => string): Peer {
  const installed = fs.existsSync(NATS_SERVER);
  const syncAlways = installed && syncAlwaysSupported();
  const version = installed ? execFileSync(NATS_SERVER, ['--version'], { encoding: 'utf8' }).trim() : '';
  return {
    name: 'jetstream',
    protocol: 'jetstream',
    version: installed ? `${version}; @nats-io/jetstream ${pkg('@nats-io/jetstream')}` : 'not installed',
    config:
      'one file-backed work-queue stream, a subject per user, a durable pull consumer per user ' +
      `(batches of ${JETSTREAM_BATCH}), explicit acks, publish acks awaited; ` +
      (syncAlways
        ? 'sync_interval always (an fsync before each ack)'
        : "no sync_interval in this nats-server: writes reach the page cache before the ack, and the disk on the server's own timer"),
    unavailable: installed ? undefined : `${NATS_SERVER} not found`,
    // The load's clients each consume their own subject; groups are not measured.
    skips: ['W3', 'W4'],
    start(port, dir) {
      const conf = path.join(dir, 'nats-server.conf');
      fs.writeFileSync(
        conf,
        [
          `listen: "127.0.0.1:${port}"`,
          `log_file: "${path.join(dir, 'nats-server.log')}"`,
          'jetstream {',
          `  store_dir: "${path.join(dir, 'jetstream')}"`,
          ...(syncAlways ? ['  sync_interval: always'] : []),
          '}',
          '',
        ].join('\n'),
      );
      return [NATS_SERVER, '-c', conf];
    },
  };
}
