import { BUS_RESYNC, type Bus } from './ports.js';

export const LOBBY_SUBJECT = 'lobby';

export interface LobbyPost {
  /** How the author is shown: `('ip', port)` for seed-004 clients, the account for others. */
  author: string;
  /** The author's account, when they have one. */
  id: number | null;
  text: string;
  at: number;
}

/** The one public room. It is live only: seed 004 keeps no history, and neither do we. */
export class Lobby {
  private members = 0;

  constructor(
    private readonly bus: Bus,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.members;
  }

  join(handler: (post: LobbyPost) => void): () => void {
    this.members++;
    const receive = (payload: unknown) => {
      if (payload !== BUS_RESYNC) handler(payload as LobbyPost);
    };
    this.bus.subscribe(LOBBY_SUBJECT, receive);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.members--;
      this.bus.unsubscribe(LOBBY_SUBJECT, receive);
    };
  }

  post(author: string, id: number | null, text: string): LobbyPost {
    const post: LobbyPost = { author, id, text, at: this.now() };
    this.bus.publish(LOBBY_SUBJECT, post);
    return post;
  }
}
