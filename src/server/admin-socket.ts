import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { isMensageiroError } from '../core/errors.js';
import type { AdminRequest, AdminService } from './admin-service.js';
import type { Logger } from './logger.js';

export const ADMIN_SOCKET = 'admin.sock';

export function adminSocketPath(dataDir: string): string {
  return path.join(dataDir, ADMIN_SOCKET);
}

/** One reply per request line: {"ok":true,"result":...} or {"ok":false,"error":"..."}. */
export type AdminReply = { ok: true; result: unknown } | { ok: false; error: string };

/**
 * The admin socket: a unix socket in the data directory that only the server's own user may
 * open (0600). One JSON request per line, one JSON reply per line.
 */
export async function serveAdmin(service: AdminService, dataDir: string, log: Logger): Promise<net.Server> {
  const file = adminSocketPath(dataDir);
  // The data directory's lock is ours, so a socket file left here is from a server that died.
  fs.rmSync(file, { force: true });
  const server = net.createServer((socket) => {
    const lines = readline.createInterface({ input: socket });
    lines.on('line', (line) => {
      let request: AdminRequest;
      try {
        request = JSON.parse(line) as AdminRequest;
        if (typeof request.command !== 'string' || !Array.isArray(request.args))
          throw new Error('bad request');
      } catch {
        socket.write(`${JSON.stringify({ ok: false, error: 'expected {"command":...,"args":[...]}' })}\n`);
        return;
      }
      // The command and whom it is about; a secret given to reset-secret stays out of the log.
      log.info({ command: request.command, user: request.args[0] }, 'admin command');
      service.run(request).then(
        (result) => socket.write(`${JSON.stringify({ ok: true, result } satisfies AdminReply)}\n`),
        (error: unknown) => {
          if (!isMensageiroError(error)) log.error({ err: error }, 'admin command failed');
          const message = isMensageiroError(error) ? error.message : 'internal error';
          socket.write(`${JSON.stringify({ ok: false, error: message } satisfies AdminReply)}\n`);
        },
      );
    });
    socket.on('error', () => socket.destroy());
  });
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(file, () => resolve());
    });
  } finally {
    process.umask(umask);
  }
  fs.chmodSync(file, 0o600);
  return server;
}

/** Sends one request to a running server's admin socket. */
export function askAdmin(dataDir: string, request: AdminRequest): Promise<AdminReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(adminSocketPath(dataDir));
    socket.once('error', reject);
    socket.once('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    readline.createInterface({ input: socket }).once('line', (line) => {
      socket.end();
      resolve(JSON.parse(line) as AdminReply);
    });
  });
}
