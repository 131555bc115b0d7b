import type { ChatLink } from '../client/chat-link.js';
import type { LocalState } from '../client/local-state.js';
import { ChatAccount } from './chat-account.js';
import { ChatCommands } from './chat-commands.js';
import { ChatView } from './chat-view.js';
import type { Terminal } from './terminal.js';

/** How long the chat waits, once input has ended, for what was typed to reach the server. */
const DRAIN_MS = 30_000;

export interface ChatRunOptions {
  server: string;
  historyLines?: number;
  /** Said before the first sign-in: registering, or signing in to an existing account. */
  greeting?: string;
  /** Turns a sign-in failure into advice for the user. */
  explain?: (error: unknown) => string;
}

/**
 * The interactive chat over any ChatLink, keeping everything in the profile's LocalState.
 * Typed lines run in order and only once signed in. When input ends (or on /quit) it waits, at
 * most 30 s, for every queued message to be acknowledged, and resolves with the exit code: 0
 * when everything was sent, 1 when something was not, or sign-in failed.
 */
export class ChatUi {
  private readonly view: ChatView;
  private readonly commands: ChatCommands;
  private readonly account: ChatAccount | null;
  private lines: Promise<void> = Promise.resolve();
  private waitingLines = 0;
  /** Settles at the first sign-in, or when it failed for good. */
  private signedIn!: Promise<void>;
  private markSignedIn!: () => void;
  private failure: string | null = null;
  private lastRetry = '';
  private quitting = false;
  private signedInOnce = false;
  /** The first sign-in of a new profile reading back its history from the server. */
  private rebuilding: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly link: ChatLink,
    private readonly state: LocalState,
    private readonly terminal: Terminal,
  ) {
    this.view = new ChatView(link, state, terminal);
    this.account = link.client ? new ChatAccount(link.client, state, terminal, this.view) : null;
    this.commands = new ChatCommands(link, state, terminal, this.view, this.account);
  }

  async run(options: ChatRunOptions): Promise<number> {
    const { link, state, terminal, view } = this;
    view.me = state.identity?.id ?? null;
    for (const message of state.history(null, options.historyLines ?? 20)) view.show(message);
    this.signedIn = new Promise((resolve) => (this.markSignedIn = resolve));
    link.on('connected', (info) => {
      view.me = info.id;
      const known = state.identity;
      state.identity = {
        id: info.id,
        username: info.username,
        token: info.token ?? known?.token ?? null,
        server: options.server,
        dialect: link.dialect,
        device: info.device ?? known?.device,
      };
      this.lastRetry = '';
      this.signedInOnce = true;
      terminal.print(
        `* signed in as ${info.username ?? info.id} (id ${info.id}) on ${options.server} via ${link.dialect}`,
      );
      this.markSignedIn();
      this.commands.flushQueued();
      if (this.account && !state.rebuilt)
        this.rebuilding = this.account
          .rebuild()
          .catch((error: unknown) => terminal.print(`* could not read back the history: ${String(error)}`));
    });
    link.on('disconnected', () => {
      if (!this.quitting) terminal.print('* disconnected; reconnecting');
    });
    link.on('retrying', ({ reason }) => {
      if (reason !== this.lastRetry && !this.quitting) terminal.print(`* ${reason}`);
      this.lastRetry = reason;
    });
    link.on('failed', (error) => this.fail(error.message));
    link.on('position', (seq) => (state.lastSeq = seq));
    link.on('message', (m) => {
      if (m.fromName !== undefined) state.rememberName(m.from, m.fromName);
      if (m.from === view.me && m.mid !== null) {
        // Sent from another device of this account.
        const synced = { mid: m.mid, conv: m.conv, text: m.text, ts: m.ts, state: 'sent' as const };
        if (state.addSynced(synced))
          view.later([m.conv], () =>
            view.show(state.lastOutgoing(m.conv) ?? { ...synced, direction: 'out', from: m.from }),
          );
        return;
      }
      if (!state.addIncoming({ mid: m.mid, from: m.from, conv: m.conv, text: m.text, ts: m.ts })) return;
      view.later([m.from, m.conv], () => {
        view.show({ direction: 'in', from: m.from, conv: m.conv, text: m.text, ts: m.ts, state: 'received' });
        this.commands.received(m.conv);
      });
    });
    link.on('receipt', (r) => {
      const upTo = r.mid !== null ? { mid: r.mid } : { ts: r.ts };
      const { moved } = state.applyReceipt(r.conv, r.status, upTo, r.by);
      if (moved.length > 0) view.later([r.conv], () => view.receipt(r.status, r.conv, moved));
    });
    link.on('read', (r) => {
      if (state.markReadLocally(r.conv, r.mid) > 0)
        view.later([r.conv], () => terminal.print(`* read on another device: ${view.nameOf(r.conv)}`));
    });
    link.on('group', (g) => {
      const name = g.name || state.group(g.id)?.name || '';
      g.names?.forEach((known, i) => known !== null && state.rememberName(g.members[i]!, known));
      state.saveGroup({ id: g.id, name, members: g.members });
      const mentioned = [...g.members, ...(g.affected ?? []), g.by ?? null];
      view.later(mentioned, () => terminal.print(`* ${view.groupChange({ ...g, name })}`));
    });
    link.on('presence', (p) =>
      view.later([p.id], () =>
        terminal.print(`* ${view.nameOf(p.id)} is ${p.online ? 'online' : 'offline'}`),
      ),
    );
    link.on('lobby', (post) => terminal.print(`[lobby] ${post.author}: ${post.text}`));

    if (options.greeting) terminal.print(`* ${options.greeting}`);
    const ended = new Promise<void>((resolve) => terminal.onClose(resolve));
    terminal.onLine((line) => this.enqueue(line));
    terminal.prompt();
    link.start().catch((error: unknown) => this.fail(options.explain?.(error) ?? String(error)));
    await ended;
    return this.finish();
  }

  private enqueue(line: string): void {
    this.waitingLines++;
    this.lines = this.lines
      .then(() => this.signedIn)
      .then(async () => {
        this.waitingLines--;
        if (this.failure === null && (await this.commands.handle(line.trim())) === 'quit') this.quit();
      })
      .catch((error: unknown) =>
        this.terminal.print(`* ${error instanceof Error ? error.message : String(error)}`),
      );
  }

  private fail(reason: string): void {
    if (this.failure !== null) return;
    this.failure = reason;
    this.markSignedIn();
    this.terminal.print(`* ${reason}`);
    this.quit();
  }

  private quit(): void {
    this.quitting = true;
    this.terminal.close();
  }

  /** Input ended: run what was typed, wait for the server to have every message, then leave. */
  private async finish(): Promise<number> {
    this.quitting = true;
    const deadline = Date.now() + DRAIN_MS;
    // Piped input that ends, even with nothing in it, says: sign in (or register), then leave.
    const queued = this.waitingLines + this.state.pendingOutgoing().length;
    if (!this.terminal.interactive || queued > 0) await this.until(this.signedIn, deadline);
    if (this.failure === null) {
      await this.until(this.lines, deadline);
      await this.commands.allSent(deadline);
    }
    // A new profile reading back its history on this first run keeps it, piped or not.
    await this.until(this.rebuilding, deadline);
    await this.until(this.view.settled(), Math.min(deadline, Date.now() + 2000));
    this.view.closed = true;
    this.link.removeAllListeners();
    this.link.close();
    if (this.failure !== null) return 1;
    if (!this.signedInOnce) {
      const why = this.lastRetry ? ` (${this.lastRetry})` : '';
      const lines = this.waitingLines > 0 ? `; ${this.waitingLines} typed line(s) were not run` : '';
      this.terminal.print(`* not signed in${why}${lines}`);
    }
    const unsent = this.state.pendingOutgoing();
    for (const message of unsent)
      this.terminal.print(
        `* not sent yet (kept for the next run): @${message.target ?? message.conv} ${message.text}`,
      );
    if (unsent.length > 0 || !this.signedInOnce) return 1;
    this.terminal.print('* bye');
    return 0;
  }

  private async until(work: Promise<unknown>, deadline: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>(
      (resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))),
    );
    await Promise.race([work, timeout]);
    clearTimeout(timer);
  }
}
