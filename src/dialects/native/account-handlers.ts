import { MensageiroError } from '../../core/errors.js';
import { isAccountId } from '../../core/hub.js';
import { bad, echoCid, optionalString, type NativeHandler } from './requests.js';

/** Profile, secret and devices: what a signed-in account changes about itself. */

const profile: NativeHandler = async (request, frame) => {
  const displayName = frame.display_name;
  if (displayName !== undefined && displayName !== null && typeof displayName !== 'string') {
    throw bad('display_name must be a string, or null to clear it');
  }
  const account = await request.hub.settings.updateProfile(request.account.id, {
    username: optionalString(frame, 'username'),
    ...(displayName === undefined ? {} : { displayName: displayName as string | null }),
  });
  request.setAccount(account);
  request.reply({
    type: 'profile',
    id: account.id,
    username: account.username,
    display_name: account.displayName,
    ...echoCid(frame),
  });
};

const secret: NativeHandler = async (request, frame) => {
  const next = optionalString(frame, 'new_secret');
  if (next === undefined) throw bad('secret needs "new_secret"');
  if (frame.revoke_all !== undefined && typeof frame.revoke_all !== 'boolean') {
    throw bad('revoke_all must be true or false');
  }
  request.hub.limitSecretChecks({ ip: request.ip });
  const { token, revoked, account } = await request.hub.settings.changeSecret(
    request.account.id,
    request.device,
    {
      current: optionalString(frame, 'secret'),
      next,
      revokeAll: frame.revoke_all === true,
    },
  );
  request.setAccount(account);
  request.reply({ type: 'secret', token, revoked, ...echoCid(frame) });
};

const devices: NativeHandler = async (request, frame) => {
  const list = await request.hub.settings.listDevices(request.account.id);
  request.reply({
    type: 'devices',
    devices: list.map((d) => ({
      device: d.device,
      name: d.name,
      created_at: d.createdAt,
      current: d.device === request.device,
    })),
    ...echoCid(frame),
  });
};

const logout: NativeHandler = async (request, frame) => {
  if (request.device === 0)
    throw bad('this connection signed in without a device: there is nothing to sign out');
  request.reply({ type: 'logout', device: request.device, ...echoCid(frame) });
  request.close();
  await request.hub.settings.revoke(request.account.id, request.device);
};

const revokeDevice: NativeHandler = async (request, frame) => {
  const device = frame.device;
  if (typeof device !== 'number' || !Number.isSafeInteger(device) || device < 1) {
    throw bad('device.revoke needs "device", a device id');
  }
  const revoked = await request.hub.settings.revoke(request.account.id, device);
  if (revoked.length === 0) throw new MensageiroError('bad_request', `this account has no device ${device}`);
  request.reply({ type: 'device.revoke', device, ...echoCid(frame) });
  if (device === request.device) request.close();
};

/** Resolves a username or id to an account or group, so clients can keep contacts by id. */
const lookup: NativeHandler = async (request, frame) => {
  const name = frame.name;
  if (!isAccountId(name) && (typeof name !== 'string' || name.length === 0)) throw bad('lookup needs "name"');
  const found = await request.hub.resolve(name as string | number);
  if (!found) throw new MensageiroError('unknown_recipient', `unknown user ${String(name)}`);
  request.reply(
    found.kind === 'user'
      ? {
          type: 'lookup',
          name,
          id: found.account.id,
          username: found.account.username,
          display_name: found.account.displayName,
          kind: 'user',
          ...echoCid(frame),
        }
      : {
          type: 'lookup',
          name,
          id: found.group.id,
          groupName: found.group.name,
          kind: 'group',
          ...echoCid(frame),
        },
  );
};

export const ACCOUNT_HANDLERS: Record<string, NativeHandler> = {
  profile,
  secret,
  devices,
  logout,
  'device.revoke': revokeDevice,
  lookup,
};
