import crypto from 'node:crypto';
import { MensageiroError } from '../core/errors.js';
import type { Hub } from '../core/hub.js';
import { hashSecret } from '../core/secrets.js';
import type { AccountId } from '../core/types.js';
import {
  deleteGroup,
  deleteUser,
  ensureAdminTables,
  findUser,
  isGroup,
  listGroups,
  listUsers,
  saveLastSeen,
  setSecret,
  setSuspended,
  suspendedAccounts,
} from '../store/sqlite/admin-queries.js';
import type { SqliteStore } from '../store/sqlite/sqlite-store.js';

/** One admin command: its name and its arguments, as the CLI and the admin socket carry them. */
export interface AdminRequest {
  command: string;
  args: string[];
}

export const ADMIN_COMMANDS: Record<string, { args: string[]; help: string }> = {
  users: { args: [], help: 'list users: id, username, last seen, devices, backlog, state' },
  groups: { args: [], help: 'list groups and their members' },
  online: { args: [], help: 'who is signed in now (running server only)' },
  'reset-secret': {
    args: ['user', '[secret]'],
    help: 'set a new secret (random unless given); signs out every device',
  },
  'revoke-tokens': {
    args: ['user'],
    help: 'sign out every device (their tokens stop working), close the sessions',
  },
  suspend: { args: ['user'], help: 'refuse sign-in on every dialect and close their sessions' },
  unsuspend: { args: ['user'], help: 'allow sign-in again' },
  'delete-user': { args: ['user'], help: 'remove a user; says what it removed and what it kept' },
  'delete-group': { args: ['group'], help: 'remove a group; its messages stay in members\u2019 inboxes' },
};

const SECRET_BYTES = 12;

/**
 * The operator's commands on a SQLite store: on a running server (through the admin socket,
 * with its hub, so sessions are closed at once) or on a stopped server's data directory (hub
 * null). Writes go through the store's group commit, and what the store caches is dropped.
 */
export class AdminService {
  /** When each account last signed in, written to the file now and then rather than per sign-in. */
  private readonly seen = new Map<AccountId, number>();

  constructor(
    private readonly store: SqliteStore,
    private readonly hub: Hub | null,
  ) {
    ensureAdminTables(store.database);
    if (hub) for (const id of suspendedAccounts(store.database)) hub.suspended.add(id);
  }

  noteSignIn(id: AccountId, at: number): void {
    this.seen.set(id, at);
  }

  /** Writes the sign-in times noted since the last save. */
  async saveLastSeen(): Promise<void> {
    if (this.seen.size === 0) return;
    const seen = [...this.seen];
    this.seen.clear();
    await this.store.write(() => saveLastSeen(this.store.database, seen));
  }

  async run(request: AdminRequest): Promise<unknown> {
    const spec = ADMIN_COMMANDS[request.command];
    if (!spec) throw new MensageiroError('bad_request', `unknown admin command ${request.command}`);
    const required = spec.args.filter((arg) => !arg.startsWith('['));
    if (request.args.length < required.length || request.args.length > spec.args.length) {
      throw new MensageiroError(
        'bad_request',
        `usage: admin ${request.command} ${spec.args.join(' ')}`.trim(),
      );
    }
    const db = this.store.database;
    const now = Date.now();
    switch (request.command) {
      case 'users': {
        await this.saveLastSeen();
        const online = new Set(this.hub?.presence.online() ?? []);
        return listUsers(db).map((user) => ({ ...user, online: online.has(user.id) }));
      }
      case 'groups':
        return listGroups(db);
      case 'online': {
        if (!this.hub)
          throw new MensageiroError('bad_request', 'the server is not running: nobody is online');
        const online = new Set(this.hub.presence.online());
        return listUsers(db)
          .filter((user) => online.has(user.id))
          .map(({ id, username }) => ({ id, username }));
      }
      case 'reset-secret': {
        const id = this.user(request.args[0]!);
        const secret = request.args[1] ?? crypto.randomBytes(SECRET_BYTES).toString('base64url');
        const hash = await hashSecret(secret);
        await this.store.write(() => setSecret(db, id, hash));
        this.store.forget(id);
        const devicesRevoked = await this.revokeDevices(id);
        return { id, secret, devicesRevoked, disconnected: this.disconnect(id) };
      }
      case 'revoke-tokens': {
        const id = this.user(request.args[0]!);
        const devicesRevoked = await this.revokeDevices(id);
        return { id, devicesRevoked, disconnected: this.disconnect(id) };
      }
      case 'suspend': {
        const id = this.user(request.args[0]!);
        await this.store.write(() => setSuspended(db, id, true, now));
        return { id, suspended: true, disconnected: this.hub?.suspend(id) ?? 0 };
      }
      case 'unsuspend': {
        const id = this.user(request.args[0]!);
        await this.store.write(() => setSuspended(db, id, false, now));
        this.hub?.suspended.delete(id);
        return { id, suspended: false };
      }
      case 'delete-user': {
        const id = this.user(request.args[0]!);
        const devices = await this.revokeDevices(id);
        const deleted = await this.store.write(() => deleteUser(db, id, now));
        this.store.forget(id);
        this.seen.delete(id);
        const removed = { ...deleted.removed, devices };
        return { id, removed, kept: deleted.kept, disconnected: this.hub?.suspend(id) ?? 0 };
      }
      case 'delete-group': {
        const id = Number(request.args[0]);
        if (!isGroup(db, id)) throw new MensageiroError('unknown_recipient', `no group ${request.args[0]}`);
        const deleted = await this.store.write(() => deleteGroup(db, id));
        this.store.forget(id);
        return { id, ...deleted };
      }
    }
    throw new MensageiroError('bad_request', `unknown admin command ${request.command}`);
  }

  private user(who: string): AccountId {
    const id = findUser(this.store.database, who);
    if (id === null) throw new MensageiroError('unknown_account', `no user ${who}`);
    return id;
  }

  /** Through the hub when the server runs, so that every node ends those devices' sessions. */
  private async revokeDevices(id: AccountId): Promise<number> {
    const revoked = await (this.hub
      ? this.hub.settings.revoke(id, 'all')
      : this.store.revokeDevices(id, 'all'));
    return revoked.length;
  }

  private disconnect(id: AccountId): number {
    return this.hub?.presence.disconnect(id) ?? 0;
  }
}
