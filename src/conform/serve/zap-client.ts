import net from 'node:net';
import { CaseFailure } from '../types.js';
import { visible } from '../transcript.js';
import { frames, id13 } from '../zap-wire.js';
import { ZAP_SEED } from '../cases/zap-seed.js';
import { skip, type ClientCase } from './client-case.js';
import { clientUnits, type Script, type Session } from './session.js';

interface ClientFrame {
  at: number;
  conn: string;
  code: string;
  raw: string;
}

const WIDTH: Record<string, number> = { '01': 0, '03': 13, '08': 23 };
const SHAPE: Record<string, RegExp> = {
  '01': /^01$/,
  '03': /^03\d{13}$/,
  '05': /^05\d{36}[\s\S]{1,}$/,
  '08': /^08\d{23}$/,
  '10': /^10\d{23}(\d{13}){1,7}$/,
};

/** Every frame the client sent: fixed-width ones cut at their width, 05 and 10 at the end of their write. */
function clientFrames(session: Session): ClientFrame[] {
  const all: ClientFrame[] = [];
  for (const conn of session.conns) {
    for (const unit of clientUnits(conn, true)) {
      let rest = unit.text;
      while (rest.length > 0) {
        const code = rest.slice(0, 2);
        const width = WIDTH[code];
        const raw = width === undefined ? rest : rest.slice(0, 2 + width);
        rest = rest.slice(raw.length);
        all.push({ at: unit.at, conn: conn.label, code, raw });
      }
    }
  }
  return all.sort((x, y) => x.at - y.at);
}

/** What the reference server told the client: its ids (02) and the deliveries (06), with times. */
function serverFrames(session: Session, code: '02' | '06'): Array<{ at: number; raw: string }> {
  const pattern = code === '02' ? /02(\d{13})/g : /06(\d{13})(\d{13})(\d{10})/g;
  return session.conns.flatMap((conn) =>
    conn.chunks
      .filter((c) => c.dir === 'out')
      .flatMap((c) => [...c.bytes.toString('utf8').matchAll(pattern)].map((m) => ({ at: c.at, raw: m[0] }))),
  );
}

const show = (f: ClientFrame) => `${f.conn}: "${visible(f.raw)}"`;

export const ZAP_CLIENT_CASES: ClientCase[] = [
  {
    id: 'zap-client.01.starts-with-01-or-03',
    title: 'the first frame is 01 (register) or 03 (connect)',
    seed: ZAP_SEED.connect,
    level: 'required',
    points: 2,
    check(session) {
      const first = clientFrames(session)[0];
      if (!first) skip('the client sent nothing');
      if (first.code !== '01' && first.code !== '03')
        throw new CaseFailure('the first frame is neither 01 nor 03', '01, or 03 and the id', show(first));
    },
  },
  {
    id: 'zap-client.02.register-before-connect',
    title: '03 carries an id the server gave with 02 (01 before 03)',
    seed: ZAP_SEED.codes,
    level: 'required',
    points: 2,
    check(session) {
      const connects = clientFrames(session).filter((f) => f.code === '03');
      if (connects.length === 0) skip('the client never sent 03');
      const given = serverFrames(session, '02');
      for (const c of connects) {
        if (!given.some((g) => g.at <= c.at && g.raw.slice(2) === c.raw.slice(2))) {
          throw new CaseFailure(
            '03 names an id the server never gave this client',
            `03 with one of: ${given.map((g) => g.raw.slice(2)).join(', ') || '(no 02 yet: send 01 first)'}`,
            show(c),
          );
        }
      }
    },
  },
  {
    id: 'zap-client.03.field-widths',
    title: 'every frame has a known code and the seed’s exact widths (ids 13, ts 10, data ≤ 218)',
    seed: ZAP_SEED.codes,
    level: 'required',
    points: 3,
    check(session) {
      const all = clientFrames(session);
      if (all.length === 0) skip('the client sent nothing');
      for (const f of all) {
        const shape = SHAPE[f.code];
        if (!shape || !shape.test(f.raw))
          throw new CaseFailure(
            'a frame does not have the seed’s fields and widths',
            '01 | 03 id(13) | 05 src(13) dst(13) ts(10) data | 08 src(13) ts(10) | 10 creator(13) ts(10) members(13×1..7)',
            show(f),
          );
        if (f.code === '05' && [...f.raw.slice(38)].length > 218)
          throw new CaseFailure(
            '05 data is over 218 characters',
            '≤ 218 characters',
            `${[...f.raw.slice(38)].length} characters`,
          );
      }
    },
  },
  {
    id: 'zap-client.04.src-is-self',
    title: 'a 05 src and a 10 creator are the client’s own id',
    seed: ZAP_SEED.codes,
    level: 'required',
    points: 2,
    check(session) {
      const own = new Set([
        ...serverFrames(session, '02').map((g) => g.raw.slice(2)),
        ...clientFrames(session)
          .filter((f) => f.code === '03')
          .map((f) => f.raw.slice(2)),
      ]);
      const sends = clientFrames(session).filter((f) => f.code === '05' || f.code === '10');
      if (sends.length === 0) skip('the client sent no 05 or 10');
      for (const f of sends) {
        if (!own.has(f.raw.slice(2, 15)))
          throw new CaseFailure(
            'the sender field is not the client’s id',
            [...own].join(' or ') || 'an id from 02',
            show(f),
          );
      }
    },
  },
  {
    id: 'zap-client.05.read-after-delivery',
    title: 'an 08 names a sender whose 06 the client had received (08 after 06)',
    seed: ZAP_SEED.read,
    level: 'required',
    points: 2,
    check(session) {
      const reads = clientFrames(session).filter((f) => f.code === '08');
      if (reads.length === 0) skip('the client sent no 08');
      const deliveries = serverFrames(session, '06');
      for (const r of reads) {
        const src = r.raw.slice(2, 15);
        if (!deliveries.some((d) => d.at <= r.at && d.raw.slice(2, 15) === src)) {
          throw new CaseFailure(
            '08 before any 06 from that sender reached the client',
            `08 after a 06 from ${src}`,
            show(r),
          );
        }
      }
    },
  },
  {
    id: 'zap-client.06.posix-timestamps',
    title: 'timestamps are POSIX seconds near the present',
    seed: ZAP_SEED.codes,
    level: 'recommended',
    points: 1,
    check(session) {
      const stamped = clientFrames(session).filter(
        (f) => SHAPE[f.code]?.test(f.raw) && ['05', '08', '10'].includes(f.code),
      );
      if (stamped.length === 0) skip('the client sent no 05, 08 or 10');
      const now = Date.now() / 1000;
      for (const f of stamped) {
        const at = f.code === '05' ? 28 : 15;
        const ts = Number(f.raw.slice(at, at + 10));
        if (Math.abs(ts - now) > 86_400)
          throw new CaseFailure(
            'a timestamp is not POSIX seconds of today',
            `about ${Math.floor(now)}`,
            show(f),
          );
      }
    },
  },
];

const PROFESSOR_TEXT = 'Olá! Mensagem de teste do conform: leia e responda.';

/**
 * Gives the client something to read: once it signs in, a reference account sends it one 05,
 * so the client can show a 06 and answer with 08.
 */
export async function zapProfessor(upstreamPort: number): Promise<{ script: Script; id: number }> {
  const socket = net.connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
  socket.on('error', () => undefined);
  const id = await new Promise<number>((resolve, reject) => {
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      const match = /02(\d{13})/.exec(chunk.toString('latin1'));
      if (match) resolve(Number(match[1]));
    });
    socket.once('connect', () => socket.write(frames.register()));
  });
  const greeted = new Set<string>();
  const greet = (client: string) => {
    if (greeted.has(client) || client === id13(id)) return;
    greeted.add(client);
    setTimeout(
      () => socket.write(frames.send(id, Number(client), Math.floor(Date.now() / 1000), PROFESSOR_TEXT)),
      200,
    );
  };
  return {
    id,
    script: {
      onChunk(_conn, chunk) {
        const text = chunk.bytes.toString('latin1');
        const match = chunk.dir === 'out' ? /02(\d{13})/.exec(text) : /^03(\d{13})/.exec(text);
        if (match) greet(match[1]!);
      },
      stop: () => socket.destroy(),
    },
  };
}
