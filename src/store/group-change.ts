import { MensageiroError } from '../core/errors.js';
import type { GroupChangeRequest } from '../core/ports.js';
import type { AccountId, Group } from '../core/types.js';

/** A change to a group worked out: the group after it, who it touched, and who lost access. */
export interface PlannedChange {
  group: Group;
  affected: AccountId[];
  removed: AccountId[];
}

/**
 * What `change` makes of `current`, or the error it is refused with; changes nothing itself.
 * Every backend writes what this works out, so the rules are the same in each.
 */
export function planGroupChange(current: Group, change: GroupChangeRequest): PlannedChange {
  const members = [...current.members];
  let admins = [...current.admins];
  let name = current.name;
  let affected: AccountId[] = [];
  const removed: AccountId[] = [];
  switch (change.action) {
    case 'add':
      affected = unique(change.members).filter((m) => !members.includes(m));
      if (affected.length === 0) throw new MensageiroError('bad_request', 'they are members already');
      if (members.length + affected.length > change.maxMembers) {
        throw new MensageiroError(
          'group_too_large',
          `a group has at most ${change.maxMembers} members, creator included`,
        );
      }
      members.push(...affected);
      break;
    case 'remove':
    case 'leave': {
      affected = unique(change.members).filter((m) => members.includes(m));
      if (affected.length === 0) throw new MensageiroError('bad_request', 'they are not members');
      for (const member of affected) {
        members.splice(members.indexOf(member), 1);
        removed.push(member);
      }
      admins = admins.filter((m) => members.includes(m));
      const someoneInCharge = members.includes(current.creator) || admins.length > 0;
      // Nobody left may manage the group: its oldest member takes over, as WhatsApp does.
      if (!someoneInCharge && members.length > 0) admins = [members[0]!];
      break;
    }
    case 'rename':
      name = change.name ?? '';
      break;
    case 'admins': {
      const wanted = unique(change.members).filter((m) => members.includes(m) && m !== current.creator);
      admins = members.filter((m) => wanted.includes(m));
      affected = admins;
      break;
    }
  }
  return { group: { ...current, name, members, admins }, affected, removed };
}

function unique(ids: AccountId[]): AccountId[] {
  return [...new Set(ids)];
}
