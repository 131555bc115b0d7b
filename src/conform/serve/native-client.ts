import { CaseFailure } from '../types.js';
import { visible } from '../transcript.js';
import { NATIVE_SEED } from '../cases/native.js';
import { skip, type ClientCase } from './client-case.js';
import type { ClientConn, Session } from './session.js';

type Framed = { conn: string; object: Record<string, unknown> } | { conn: string; broken: string };

/** Cuts a client's stream into `<len>,<JSON>` frames, exactly as seed 000 writes them. */
function nativeFrames(conn: ClientConn): Framed[] {
  const bytes = Buffer.concat(conn.chunks.filter((c) => c.dir === 'in').map((c) => c.bytes));
  const out: Framed[] = [];
  let at = 0;
  while (at < bytes.length) {
    while (at < bytes.length && /\s/.test(String.fromCharCode(bytes[at]!))) at++;
    if (at >= bytes.length) break;
    const comma = bytes.indexOf(0x2c, at);
    const header = comma < 0 ? '' : bytes.subarray(at, comma).toString('latin1');
    const end = comma + 1 + Number(header);
    const broken = () =>
      out.push({ conn: conn.label, broken: bytes.subarray(at, at + 200).toString('utf8') });
    if (!/^z?\d+$/.test(header) || end > bytes.length) {
      broken();
      break;
    }
    at = end;
    if (header.startsWith('z')) continue;
    try {
      const value: unknown = JSON.parse(bytes.subarray(comma + 1, end).toString('utf8'));
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
      out.push({ conn: conn.label, object: value as Record<string, unknown> });
    } catch {
      out.push({ conn: conn.label, broken: bytes.subarray(comma + 1, end).toString('utf8') });
    }
  }
  return out;
}

const objects = (session: Session) =>
  session.conns.flatMap((conn) =>
    nativeFrames(conn).flatMap((f) => ('object' in f ? [{ conn: f.conn, object: f.object }] : [])),
  );

export const NATIVE_CLIENT_CASES: ClientCase[] = [
  {
    id: 'native-client.01.framing',
    title: 'every frame is <UTF-8 byte length>,<JSON object>',
    seed: NATIVE_SEED.framing,
    level: 'required',
    points: 3,
    check(session) {
      const all = session.conns.flatMap(nativeFrames);
      if (all.length === 0) skip('the client sent nothing');
      for (const f of all) {
        if ('broken' in f)
          throw new CaseFailure(
            'bytes that are not <byte length>,<JSON object>',
            '26,{"id":1,"type":"new",...}',
            `${f.conn}: "${visible(f.broken)}"`,
          );
      }
    },
  },
  {
    id: 'native-client.02.starts-with-new',
    title: 'the first frame on a connection is new (or register/login)',
    seed: NATIVE_SEED.types,
    level: 'required',
    points: 2,
    check(session) {
      for (const conn of session.conns) {
        const first = nativeFrames(conn)[0];
        if (first && 'object' in first && !['new', 'register', 'login'].includes(String(first.object.type))) {
          throw new CaseFailure(
            'the first frame is not new',
            '{"id":<int>,"type":"new",...}',
            JSON.stringify(first.object),
          );
        }
      }
    },
  },
  {
    id: 'native-client.03.envelope',
    title: 'frames carry a string type; msg has an integer to and a string text',
    seed: NATIVE_SEED.envelope,
    level: 'required',
    points: 2,
    check(session) {
      const all = objects(session);
      if (all.length === 0) skip('the client sent nothing');
      for (const { conn, object } of all) {
        const bad =
          typeof object.type !== 'string' ||
          (object.type === 'msg' &&
            ((typeof object.to !== 'number' && typeof object.to !== 'string') ||
              typeof object.text !== 'string'));
        if (bad)
          throw new CaseFailure(
            'a frame does not follow the envelope',
            '{ id: <int>, to: <int>, type: <string>, text: <string> }',
            `${conn}: ${JSON.stringify(object)}`,
          );
      }
    },
  },
  {
    id: 'native-client.04.out-on-leave',
    title: 'the client says out before it leaves',
    seed: NATIVE_SEED.types,
    level: 'recommended',
    points: 1,
    check(session) {
      for (const conn of session.conns) {
        const frames = nativeFrames(conn);
        const last = frames[frames.length - 1];
        if (!last || !('object' in last) || last.object.type !== 'out')
          throw new CaseFailure(
            'the client left without out',
            '{"type":"out",...}',
            last && 'object' in last ? JSON.stringify(last.object) : 'nothing',
          );
      }
    },
  },
];
