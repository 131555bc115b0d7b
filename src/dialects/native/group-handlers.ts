import { MensageiroError } from '../../core/errors.js';
import { isAccountId } from '../../core/hub.js';
import type { GroupAction } from '../../core/types.js';
import { isCleanName } from '../text.js';
import type { NativeObject } from './codec.js';
import { bad, echoCid, optionalString, recipientsOf, type NativeHandler } from './requests.js';

/** Creating and changing groups; the notices themselves reach members through their inboxes. */

function groupNameOf(frame: NativeObject): string | undefined {
  const name = optionalString(frame, 'name');
  if (name !== undefined && !isCleanName(name)) throw bad('a group name cannot hold control characters');
  return name;
}

const create: NativeHandler = async (request, frame) => {
  const group = await request.hub.createGroup(request.account.id, {
    name: groupNameOf(frame),
    members: recipientsOf(frame, 'members'),
  });
  request.reply({ type: 'group.created', gid: group.id, ...echoCid(frame) });
};

function gidOf(frame: NativeObject): number {
  if (!isAccountId(frame.gid)) throw bad('this request needs "gid", the group id');
  return frame.gid;
}

function change(action: Exclude<GroupAction, 'create'>): NativeHandler {
  return async (request, frame) => {
    const gid = gidOf(frame);
    let name: string | undefined;
    if (action === 'rename') {
      name = groupNameOf(frame);
      if (name === undefined) throw bad('group.rename needs "name"');
    }
    const key = action === 'admins' ? 'admins' : 'members';
    const members = action === 'leave' || action === 'rename' ? [] : recipientsOf(frame, key);
    await request.hub.changeGroup(request.account.id, {
      gid,
      action,
      members,
      ...(name === undefined ? {} : { name }),
    });
    request.reply({ type: 'group.changed', gid, change: action, ...echoCid(frame) });
  };
}

const info: NativeHandler = async (request, frame) => {
  const gid = gidOf(frame);
  const group = await request.hub.store.getGroup(gid);
  if (!group) throw new MensageiroError('unknown_recipient', `unknown group ${gid}`);
  if (!group.members.includes(request.account.id)) {
    throw new MensageiroError('forbidden', `you are not in group ${gid}`);
  }
  const accounts = await Promise.all(group.members.map((id) => request.hub.store.getAccount(id)));
  request.reply({
    type: 'group.info',
    gid,
    name: group.name,
    creator: group.creator,
    admins: group.admins,
    members: group.members,
    names: accounts.map((a) => (a ? (a.displayName ?? a.username) : null)),
    ...echoCid(frame),
  });
};

export const GROUP_HANDLERS: Record<string, NativeHandler> = {
  group: create,
  'group.add': change('add'),
  'group.remove': change('remove'),
  'group.leave': change('leave'),
  'group.rename': change('rename'),
  'group.admins': change('admins'),
  'group.info': info,
};
