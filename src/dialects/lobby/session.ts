import type { Hub } from '../../core/hub.js';
import type { LobbyPost } from '../../core/lobby.js';
import type { Connection } from '../../server/connection.js';
import type { Dialect, DialectContext, Session } from '../../server/dialect.js';
import { cleanText } from '../text.js';
import { DISCONNECT, LobbyDecoder, addressLabel, lobbyLine } from './codec.js';

export class LobbySession implements Session {
  private readonly decoder: LobbyDecoder;
  private readonly hub: Hub;
  private readonly leave: () => void;
  private readonly label: string;

  constructor(
    private readonly connection: Connection,
    context: DialectContext,
  ) {
    this.hub = context.hub;
    this.decoder = new LobbyDecoder(context.config.maxFrame);
    this.label = addressLabel(connection.remoteAddress, connection.remotePort);
    // Lobby clients may only listen: joining needs no first frame.
    connection.established = true;
    this.leave = this.hub.lobby.join((post) => this.onPost(post));
    connection.log.info(
      `[NOVA CONEXÃO]: ${this.label} se conectou! [CONEXÕES ATIVAS]: ${this.hub.lobby.size}`,
    );
  }

  onData(chunk: Buffer): void {
    for (const result of this.decoder.push(chunk)) {
      this.connection.lastActivity = Date.now();
      if (!result.ok) {
        this.connection.log.warn(
          { client: this.label, reason: result.error.message },
          'lobby: bad frame, closing',
        );
        this.connection.close();
        return;
      }
      if (result.text === DISCONNECT) {
        this.connection.close();
        return;
      }
      let text: string;
      try {
        text = cleanText(result.text);
      } catch (error) {
        // The lobby has no way to answer: the post is dropped, and the connection goes on.
        this.connection.log.info(
          { client: this.label, reason: (error as Error).message },
          'lobby: post dropped',
        );
        continue;
      }
      this.hub.lobby.post(this.label, null, text);
    }
  }

  onClose(): void {
    this.leave();
  }

  private onPost(post: LobbyPost): void {
    this.connection.send(Buffer.from(lobbyLine(new Date(post.at), post.author, post.text), 'utf8'));
  }
}

export const lobbyDialect: Dialect = {
  name: 'lobby',
  // Exempt from the handshake timeout: lobby clients may only listen.
  handshakeTimeoutMs: () => null,
  idleTimeoutMs: () => null,
  // Lobby clients may only read, so an idle one holds its slot only while slots are plenty.
  evictIdleWhenFull: true,
  createSession: (connection, context) => new LobbySession(connection, context),
};
