import type { Connection } from '../../server/connection.js';
import type { Dialect, DialectContext, Session } from '../../server/dialect.js';
import { NativeDecoder, encodeNative, encodeNativeJson, nativeFrameText } from './codec.js';
import { errorFrame } from './frames.js';
import { NativeSession, type NativeFramer } from './session.js';

/** TCP framing: `<len>,<json>`, or `z<len>,<deflate>` once the client has asked for it. */
class StreamFramer implements NativeFramer {
  private compressed = false;

  constructor(private readonly connection: Connection) {}

  writeJson(json: string, bytes?: number): void {
    if (this.compressed) {
      this.connection.send(encodeNativeJson(json, true));
      return;
    }
    const frame = nativeFrameText(json, bytes);
    this.connection.sendText(frame.text, frame.bytes);
  }

  compress(): void {
    this.compressed = true;
  }
}

/** A TCP connection's bytes, decoded into objects for the native session. */
class NativeStreamSession implements Session {
  private readonly decoder: NativeDecoder;
  private readonly framer: StreamFramer;
  private readonly session: NativeSession;

  constructor(connection: Connection, context: DialectContext) {
    this.decoder = new NativeDecoder(context.config.maxFrame);
    this.framer = new StreamFramer(connection);
    this.session = new NativeSession(connection, context, this.framer);
  }

  onData(chunk: Buffer): void {
    for (const frame of this.decoder.push(chunk)) {
      if (!frame.ok) {
        this.session.receiveError(frame.error);
        continue;
      }
      if (frame.compressed) this.framer.compress();
      this.session.receive(frame.message);
    }
  }

  onClose(): void {
    this.session.onClose();
  }
}

export const nativeDialect: Dialect = {
  name: 'native',
  handshakeTimeoutMs: (config) => config.handshakeTimeout,
  idleTimeoutMs: () => null,
  createSession: (connection, context) => new NativeStreamSession(connection, context),
  refuse: (connection, error) => connection.send(encodeNative(errorFrame(error))),
};
