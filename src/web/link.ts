import type { ServerFrame } from './protocol.js';

export interface LinkStatus {
  state: 'offline' | 'connecting' | 'online';
  /** Reconnect attempts since the last success. */
  attempt: number;
  /** When the next attempt starts (ms since epoch), while offline. */
  retryAt: number | null;
  reason: string;
}

export interface LinkHandlers {
  /** The sign-in object sent first on every (re)connection. */
  hello(): Record<string, unknown>;
  frame(frame: ServerFrame): void;
  status(status: LinkStatus): void;
}

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;

/**
 * The WebSocket to the server, reconnected with exponential backoff and jitter. Every state
 * change goes to one status callback, so the user always sees why the app is offline.
 */
export class ServerLink {
  private ws: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = true;
  private current: LinkStatus = { state: 'offline', attempt: 0, retryAt: null, reason: '' };

  constructor(private readonly handlers: LinkHandlers) {
    addEventListener('online', () => this.retryNow());
  }

  get status(): LinkStatus {
    return this.current;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
    this.update({ state: 'offline', attempt: 0, retryAt: null, reason: 'signed out' });
  }

  /** Sends when connected and signed in; false otherwise (the caller keeps what it must). */
  send(frame: Record<string, unknown>): boolean {
    if (this.current.state !== 'online' || this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** The welcome arrived: the session is usable. */
  online(): void {
    this.update({ state: 'online', attempt: 0, retryAt: null, reason: '' });
  }

  retryNow(): void {
    if (this.stopped || this.ws) return;
    if (this.timer) clearTimeout(this.timer);
    this.connect();
  }

  private connect(): void {
    this.timer = null;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    this.ws = ws;
    this.update({ ...this.current, state: 'connecting', retryAt: null });
    ws.onopen = () => ws.send(JSON.stringify(this.handlers.hello()));
    ws.onmessage = (event) => {
      if (typeof event.data !== 'string') return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(event.data) as ServerFrame;
      } catch {
        return;
      }
      this.handlers.frame(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      const attempt = this.current.attempt + 1;
      const delay = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** (attempt - 1)) * (0.75 + Math.random() / 2);
      const reason = event.reason || (event.code === 1006 ? 'connection lost' : `closed (${event.code})`);
      this.update({ state: 'offline', attempt, retryAt: Date.now() + delay, reason });
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  private update(status: LinkStatus): void {
    this.current = status;
    this.handlers.status(status);
  }
}
