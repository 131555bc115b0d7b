import type { Logger } from 'pino';
import type { Hub } from '../core/hub.js';
import type { MensageiroError } from '../core/errors.js';
import type { ServerConfig } from './config.js';
import type { Connection } from './connection.js';

export interface DialectContext {
  hub: Hub;
  config: ServerConfig;
  log: Logger;
}

export interface Session {
  onData(chunk: Buffer): void;
  onClose(): void;
}

/** What the server runtime needs to know to put one dialect on a port. */
export interface Dialect {
  name: string;
  /** Close a connection that has not identified itself within this time; null for never. */
  handshakeTimeoutMs(config: ServerConfig): number | null;
  /** Close a connection that has sent nothing for this time; null for never. */
  idleTimeoutMs(config: ServerConfig): number | null;
  /** When the server is full, its longest-idle connection gives its slot to a newcomer. */
  evictIdleWhenFull?: boolean;
  createSession(connection: Connection, context: DialectContext): Session;
  /** Tell a refused client why, in the dialect's own words, where it has a way to. */
  refuse?(connection: Connection, error: MensageiroError): void;
  /** Runs before the port opens (say, to load a users file). */
  start?(context: DialectContext): Promise<void>;
  /** Runs after the port has closed, before the store does. */
  stop?(): Promise<void>;
}
