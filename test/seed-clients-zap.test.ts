import { afterEach, describe, expect, it } from 'vitest';
import type { LinkMessage } from '../src/client/chat-link.js';
import { ZapLink } from '../src/client/zap-link.js';
import { CliProcess } from './helpers/cli-process.js';
import type { RawSocket } from './helpers/raw-socket.js';
import { SeedServer, bytesOf, eventually, sendEach } from './helpers/seed-server.js';
import { tempDir } from './helpers/server.js';
import { pad } from './helpers/zap-client.js';

const servers: SeedServer[] = [];
const processes: CliProcess[] = [];
const links: ZapLink[] = [];
afterEach(async () => {
  for (const p of processes.splice(0)) await p.kill();
  for (const link of links.splice(0)) link.close();
  for (const s of servers.splice(0)) await s.close();
});

type Relay = (frame05: string) => string;
const RELAYS: Record<string, Relay> = {
  'sends 06 as the seed says': (f) => `06${f.slice(2)}`,
  'relays the 05 unchanged': (f) => f,
  'puts 06 in front of the whole 05': (f) => `06${f}`,
  'sends a 06 whose data is the whole 05': (f) => `06${f.slice(2, 38)}${f}`,
};

/**
 * A student's zap server, as written to the seed in Python: one recv() is one frame, fields are
 * cut at fixed positions, nothing it sends ends in LF, and each frame goes out with one send().
 */
class StudentZapServer {
  private nextId = 1_700_000_000_001;
  private nextGroup = 1;
  private readonly online = new Map<string, RawSocket>();
  private readonly pending = new Map<string, string[]>();
  private readonly groups = new Map<string, string[]>();
  seed!: SeedServer;

  constructor(
    private readonly relay: Relay = RELAYS['sends 06 as the seed says']!,
    private readonly groupId: (n: number) => string = (n) => pad(9_000_000_000_000 + n, 13),
  ) {}

  static async start(relay?: Relay, groupId?: (n: number) => string): Promise<StudentZapServer> {
    const student = new StudentZapServer(relay, groupId);
    student.seed = await SeedServer.start((peer) => {
      let me = '';
      peer.socket.on('data', (chunk: Buffer) => {
        me = student.handle(peer, chunk.toString('utf8'), me);
      });
    });
    servers.push(student.seed);
    return student;
  }

  get port(): number {
    return this.seed.port;
  }

  /** Every recv() our clients caused, each of which this server took as one frame. */
  get received(): string[] {
    return this.seed.peers.flatMap((peer) => peer.chunks.map((chunk) => chunk.toString('utf8')));
  }

  /** Sends frames to a connected id one send() each, or keeps them for its 03. */
  deliver(id: string, frames: string[]): void {
    const peer = this.online.get(id);
    if (peer) void sendEach(peer, frames);
    else this.pending.set(id, [...(this.pending.get(id) ?? []), ...frames]);
  }

  private handle(peer: RawSocket, frame: string, me: string): string {
    const code = frame.slice(0, 2);
    if (code === '01') {
      const id = String(this.nextId++);
      this.online.set(id, peer);
      void peer.write(`02${id}`);
      return id;
    }
    if (code === '03') {
      const id = frame.slice(2, 15);
      this.online.set(id, peer);
      const queued = this.pending.get(id) ?? [];
      this.pending.delete(id);
      void sendEach(peer, queued);
      return id;
    }
    if (code === '05') {
      const [src, dst, ts] = [frame.slice(2, 15), frame.slice(15, 28), frame.slice(28, 38)];
      for (const to of this.groups.get(dst) ?? [dst]) if (to !== src) this.deliver(to, [this.relay(frame)]);
      this.deliver(src, [`07${dst}${ts}`]);
    }
    if (code === '08') this.deliver(frame.slice(2, 15), [`09${me}${frame.slice(15, 25)}`]);
    if (code === '10') {
      // Members are cut every 13 characters: an LF from the client would be a "member".
      const members = [frame.slice(2, 15), ...(frame.slice(25).match(/[^]{1,13}/g) ?? [])];
      const id = this.groupId(this.nextGroup++);
      this.groups.set(id, members);
      for (const member of members)
        this.deliver(member, [`11${id}${frame.slice(15, 25)}${members.join('')}`]);
    }
    return me;
  }
}

/** What our client may send: exactly one seed frame per recv(), never an LF. */
const ONE_FRAME = /^(01|03\d{13}|05\d{36}[^\n]+|08\d{23}|10\d{23}(\d{13}){1,7})$/;

function expectSeedFramesOnly(received: string[]): void {
  expect(received.length).toBeGreaterThan(0);
  for (const chunk of received)
    expect({ chunk, oneFrame: ONE_FRAME.test(chunk) }).toEqual({ chunk, oneFrame: true });
  expect(received.join('')).not.toContain('\n');
}

function zapChat(home: string, port: number): CliProcess {
  const cli = new CliProcess([
    'chat',
    'me',
    '--dialect',
    'zap',
    '--server',
    `127.0.0.1:${port}`,
    '--home',
    home,
  ]);
  processes.push(cli);
  return cli;
}

async function signedInId(cli: CliProcess): Promise<string> {
  const line = await cli.waitLine((l) => l.startsWith('* signed in as'), 'signed in');
  return /id (\d{13})/.exec(line)![1]!;
}

/** A ZapLink with its events recorded, for the cases that need exact control of the server's bytes. */
async function link(port: number, id: number | null, idleMs?: number) {
  const seen = {
    id: 0,
    messages: [] as LinkMessage[],
    receipts: [] as string[],
    groups: [] as string[],
    notices: [] as string[],
  };
  const zap = new ZapLink('127.0.0.1', port, id, { idleMs, onNotice: (text) => seen.notices.push(text) });
  links.push(zap);
  zap.on('connected', (info) => (seen.id = info.id));
  zap.on('message', (m) => seen.messages.push(m));
  zap.on('receipt', (r) => seen.receipts.push(`${r.status} ${r.conv} ${r.ts}`));
  zap.on('group', (g) => seen.groups.push(`${g.id}: ${g.members.join(',')}`));
  await zap.start();
  return { zap, seen };
}

describe('mensageiro chat --dialect zap against a student server', () => {
  it('registers, chats both ways with receipts, and makes a group, sending only seed frames', async () => {
    const student = await StudentZapServer.start();
    const home = tempDir();
    const ana = zapChat(home, student.port);
    const anaId = await signedInId(ana);
    const bia = new CliProcess([
      'chat',
      'bia',
      '--dialect',
      'zap',
      '--server',
      `127.0.0.1:${student.port}`,
      '--home',
      home,
    ]);
    processes.push(bia);
    const biaId = await signedInId(bia);

    ana.type(`/add bia ${biaId}`);
    await ana.waitLine((l) => l.startsWith('* bia is'), 'contact added');
    ana.type('@bia oi bia, tudo bem? ç');
    expect(
      await bia.waitLine(
        (l) => l.includes('tudo bem'),
        `message at bia; ana: ${ana.stdout}; server: ${student.received.join('|')}`,
      ),
    ).toMatch(new RegExp(`\\] ${anaId}: oi bia, tudo bem\\? ç$`));
    await ana.waitLine((l) => l === '* ✓✓ delivered to bia: 1 message', 'delivered mark from 07');
    bia.type('/read');
    await ana.waitLine((l) => l === '* ✓✓ read by bia: 1 message', 'read mark from 09');
    bia.type(`@${anaId} tudo ótimo`);
    await ana.waitLine((l) => l.endsWith('bia: tudo ótimo'), 'reply at ana');

    ana.type(`/group turma ${biaId}`);
    const group = await ana.waitLine((l) => l.startsWith('* group'), 'group at ana');
    // The creator is a member, and nobody else crept in.
    expect(group).toMatch(/^\* group turma \(id (\d{13})\): (me, bia|bia, me)$/);
    const groupId = /id (\d{13})/.exec(group)![1]!;
    expect(await bia.waitLine((l) => l.startsWith('* group'), 'group at bia')).toMatch(
      new RegExp(`: (${anaId}, me|me, ${anaId})$`),
    );
    ana.type(`@${groupId} oi turma`);
    await bia.waitLine(
      (l) => l.endsWith('oi turma'),
      `group message at bia; ana: ${ana.stdout}; server: ${student.received.join('|')}`,
    );

    const sent = student.received;
    expectSeedFramesOnly(sent);
    expect(sent).toContain(`10${anaId}${sent.find((c) => c.startsWith('10'))!.slice(15, 25)}${biaId}`);
  });

  it.each(Object.keys(RELAYS))('shows a message from a server that %s', async (how) => {
    const student = await StudentZapServer.start(RELAYS[how]);
    const ana = await link(student.port, null);
    const bia = await link(student.port, null);
    const [anaId, biaId] = [ana.seen.id, bia.seen.id];
    await ana.zap.send(biaId, 'olá, bia');
    await eventually(
      () => bia.seen.messages.length > 0,
      'the message at bia',
      () => bia.seen,
    );
    expect(bia.seen.messages).toEqual([
      { mid: null, from: anaId, conv: anaId, text: 'olá, bia', ts: expect.any(Number) },
    ]);
    await eventually(
      () => ana.seen.receipts.length > 0,
      'the 07 at ana',
      () => ana.seen,
    );
    expect(ana.seen.receipts[0]).toMatch(new RegExp(`^delivered ${biaId} `));
    expect([ana.seen.notices, bia.seen.notices]).toEqual([[], []]);
    expectSeedFramesOnly(student.received);
  });

  it('reads on past an undefined code and a G group id, all in one write with no LF', async () => {
    const student = await StudentZapServer.start();
    const me = '1700000000099';
    const ana = '1700000000001';
    const ts = '1733000000';
    const frames = [
      `06${ana}${me}${ts}primeira`,
      `12${ana}${ts}algo que o seed não define`,
      `06${ana}${me}${ts}segunda`,
      `11G123456789012${ts}${ana}${me}`,
      `07${ana}${ts}`,
      `06${ana}G123456789012${ts}no grupo G`,
      `06${ana}${me}${ts}terceira`,
      `11${pad(42, 13)}${ts}${ana}${me}`,
      `09${ana}${ts}`,
    ];
    const bia = await link(student.port, Number(me));
    await eventually(
      () => student.seed.peers.length === 1,
      'the connection',
      () => bia.seen,
    );
    await student.seed.peers[0]!.write(frames.join(''));
    await eventually(
      () => bia.seen.receipts.length === 2,
      'every frame after the bad ones',
      () => bia.seen,
    );
    expect(bia.seen.messages.map((m) => m.text)).toEqual(['primeira', 'segunda', 'terceira']);
    expect(bia.seen.groups).toEqual([`42: ${Number(ana)},${Number(me)}`]);
    expect(bia.seen.receipts).toEqual([`delivered ${Number(ana)} ${ts}`, `read ${Number(ana)} ${ts}`]);
    expect(bia.seen.notices).toHaveLength(1);
    expect(bia.seen.notices[0]).toContain('undefined code "12"');
  });

  it('joins a frame that arrives one byte per write', async () => {
    const student = await StudentZapServer.start();
    const me = '1700000000099';
    const ana = '1700000000001';
    const ts = '1733000000';
    // A long idle interval, so that a stall of this busy test machine between two single bytes
    // is not taken for the end of a frame; the digits at the end settle once it passes.
    const bia = await link(student.port, Number(me), 1000);
    await eventually(
      () => student.seed.peers.length === 1,
      'the connection',
      () => bia.seen,
    );
    const peer = student.seed.peers[0]!;
    await sendEach(peer, bytesOf(`06${ana}${me}${ts}byte a byte, ção06${ana}${me}${ts}sem LF`));
    await sendEach(peer, bytesOf(`07${ana}${ts}11${pad(7, 13)}${ts}${ana}${me}09${ana}${ts}`));
    await eventually(
      () => bia.seen.receipts.length === 2,
      'the 09 after the 11',
      () => bia.seen,
    );
    expect(bia.seen.messages.map((m) => m.text)).toEqual(['byte a byte, ção', 'sem LF']);
    expect(bia.seen.receipts).toEqual([`delivered ${Number(ana)} ${ts}`, `read ${Number(ana)} ${ts}`]);
    expect(bia.seen.groups).toEqual([`7: ${Number(ana)},${Number(me)}`]);
    expect(bia.seen.notices).toEqual([]);
  });

  it('writes the frames queued before close, each alone, then leaves', async () => {
    const student = await StudentZapServer.start();
    const ana = await link(student.port, null);
    const sent = ['um', 'dois', 'três'].map((text) => ana.zap.send(1_700_000_000_777, text));
    ana.zap.close();
    await Promise.all(sent);
    const peer = student.seed.peers[0]!;
    await eventually(
      () => peer.closed,
      'the close after the last frame',
      () => student.received,
    );
    expect(student.received.filter((c) => c.startsWith('05')).map((c) => c.slice(38))).toEqual([
      'um',
      'dois',
      'três',
    ]);
    expectSeedFramesOnly(student.received);
  });
});
