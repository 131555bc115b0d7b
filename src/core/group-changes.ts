import { MensageiroError } from './errors.js';
import type { Hub } from './hub.js';
import type { GroupChangeRequest } from './ports.js';
import type { AccountId } from './types.js';

/** A change as a member asks for it: members by id or username. */
export type GroupChangeAsk = Pick<GroupChangeRequest, 'gid' | 'action' | 'name'> & {
  members?: Array<AccountId | string>;
};

/**
 * Checks that `by` may make the change and resolves its members: the creator or an admin
 * adds, removes and renames; only the creator names admins; any member leaves; nobody removes
 * the creator. The store re-checks what depends on the group's state at commit (the size).
 */
export async function checkGroupChange(
  hub: Hub,
  by: AccountId,
  ask: GroupChangeAsk,
): Promise<GroupChangeRequest> {
  const group = await hub.store.getGroup(ask.gid);
  if (!group) throw new MensageiroError('unknown_recipient', `unknown group ${ask.gid}`);
  if (!group.members.includes(by)) throw new MensageiroError('forbidden', `you are not in group ${group.id}`);
  const manages = by === group.creator || group.admins.includes(by);
  const allowed = ask.action === 'leave' || (ask.action === 'admins' ? by === group.creator : manages);
  if (!allowed) throw new MensageiroError('forbidden', `you may not ${ask.action} in group ${group.id}`);
  const members: AccountId[] = [];
  for (const wanted of ask.action === 'leave' ? [by] : (ask.members ?? [])) {
    const recipient = await hub.resolve(wanted);
    if (!recipient || recipient.kind !== 'user') {
      throw new MensageiroError('unknown_recipient', `unknown member ${wanted}`);
    }
    members.push(recipient.account.id);
  }
  if (ask.action === 'remove' && members.includes(group.creator)) {
    throw new MensageiroError('forbidden', 'the creator cannot be removed; the creator may leave');
  }
  const at = hub.now();
  return { ...ask, by, members, maxMembers: hub.maxGroupSize, ts: Math.floor(at / 1000), at };
}
