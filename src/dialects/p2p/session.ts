import type { Hub } from '../../core/hub.js';
import { MensageiroError } from '../../core/errors.js';
import type { Connection } from '../../server/connection.js';
import type { Dialect, DialectContext, Session } from '../../server/dialect.js';
import { LineDecoder } from '../line-decoder.js';
import { addrReply, listReply, parseInstruction } from './codec.js';

const MAX_LINE = 1024;

export class DirectorySession implements Session {
  private readonly lines = new LineDecoder(MAX_LINE);
  private readonly hub: Hub;
  private name: string | null = null;

  constructor(
    private readonly connection: Connection,
    context: DialectContext,
  ) {
    this.hub = context.hub;
  }

  onData(chunk: Buffer): void {
    for (const result of this.lines.push(chunk)) {
      if (this.connection.isClosed) return;
      if (!result.ok) {
        this.connection.log.warn(
          { conn: this.connection.id, reason: result.error.message },
          'p2p: bad line, closing',
        );
        this.connection.close();
        return;
      }
      this.connection.lastActivity = Date.now();
      this.handle(result.line);
    }
  }

  onClose(): void {
    if (this.name !== null) this.hub.directory.remove(this.name, this);
  }

  private reply(text: string): void {
    this.connection.send(Buffer.from(text, 'utf8'));
  }

  private handle(line: string): void {
    const instruction = parseInstruction(line);
    const log = this.connection.log;
    switch (instruction.kind) {
      case 'USER':
        if (this.name !== null) this.hub.directory.remove(this.name, this);
        try {
          this.hub.directory.register(
            instruction.name,
            this.connection.remoteAddress,
            instruction.port,
            this,
          );
        } catch (error) {
          if (!(error instanceof MensageiroError)) throw error;
          // A name that is already active is refused: the connection is closed.
          log.info({ conn: this.connection.id, name: instruction.name }, 'p2p: name already active, closing');
          this.name = null;
          this.connection.close();
          return;
        }
        this.name = instruction.name;
        this.connection.established = true;
        log.info(
          { name: this.name, ip: this.connection.remoteAddress, port: instruction.port },
          'p2p: registered',
        );
        return;
      case 'LIST':
        this.reply(listReply(this.hub.directory.names(this.name ?? undefined)));
        return;
      case 'ADDR': {
        const entry = this.hub.directory.lookup(instruction.name);
        // No reply at all for a name that is not active, as the seed says.
        if (entry) this.reply(addrReply(entry.name, entry.ip, entry.port));
        return;
      }
      case 'KEEP':
        return;
      case 'DISC':
        if (this.name !== null) this.hub.directory.remove(this.name, this);
        this.name = null;
        this.connection.close();
        return;
      case 'invalid':
        log.info({ conn: this.connection.id, reason: instruction.reason }, 'p2p: instruction ignored');
        return;
    }
  }
}

export const p2pDialect: Dialect = {
  name: 'p2p',
  handshakeTimeoutMs: (config) => config.seedHandshakeTimeout,
  // KEEP every 5 s: a client silent for the keepalive window (15 s) is dropped.
  idleTimeoutMs: (config) => config.p2pKeepalive,
  createSession: (connection, context) => new DirectorySession(connection, context),
};
