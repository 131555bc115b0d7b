import type { Case, CaseContext, SeedQuote } from '../types.js';
import type { Conn, Line } from '../conn.js';
import { CaseFailure } from '../types.js';
import { expectThat } from '../check.js';
import { visible } from '../transcript.js';
import { sleep } from '../conn.js';

const file = '003_77739db7210dd360.txt';
const quote = (text: string): SeedQuote => ({ file, text });
export const P2P_SEED = {
  active: quote(
    'um servidor central pode ser utilizado apenas para se conseguir informações sobre o estado dos usuários da rede, por exemplo, saber quem está ativo e como estabelecer uma conexão.',
  ),
  port: quote(
    'ele deverá utilizar uma mensagem própria para informar ao servidor central qual porta estará aberta para recebimento de conexões.',
  ),
  addr: quote(
    'um par que deseja se conectar a outro par, deve, primeiro, perguntar ao servidor qual a porta a ser utilizada (além do endereço IP).',
  ),
  listening: quote('O servidor central estará constantemente escutando a porta 10000'),
};

interface Peer {
  conn: Conn;
  name: string;
  port: number;
}

async function register(ctx: CaseContext, label: string, eol = '\r\n'): Promise<Peer> {
  const conn = await ctx.connect(label);
  const name = ctx.unique('par');
  const port = 20000 + Math.floor(Math.random() * 40000);
  await conn.send(`USER ${name}:${port}${eol}`);
  // The LIST round trip makes sure the target has taken the USER before the case goes on.
  await list(conn, eol);
  return { conn, name, port };
}

async function list(conn: Conn, eol = '\r\n'): Promise<{ line: Line; names: string[] }> {
  await conn.send(`LIST${eol}`);
  const line = await conn.line('the reply to LIST', 'LIST <name>:<name>...');
  if (!line.text.startsWith('LIST'))
    throw new CaseFailure(
      'the reply to LIST does not start with LIST',
      'LIST <name>:<name>...',
      `"${visible(line.text)}"`,
    );
  const rest = line.text.slice(4).trim();
  return { line, names: rest === '' ? [] : rest.split(':') };
}

/** The IPv4 address the target saw this connection come from, written dotted. */
const seenFrom = (conn: Conn) => (conn.socket.localAddress ?? '').replace(/^::ffff:/, '');

function expectListed(names: string[], name: string, listed: boolean, what: string): void {
  expectThat(
    names.includes(name) === listed,
    what,
    listed ? `a LIST naming ${name}` : `a LIST without ${name}`,
    names.length ? `LIST ${names.join(':')}` : 'an empty LIST',
  );
}

export const P2P_CASES: Case[] = [
  {
    id: 'p2p.01.list-names-others',
    title: 'LIST names the other active users, separated by ":", and not the asker',
    seed: P2P_SEED.active,
    level: 'required',
    points: 3,
    async run(ctx) {
      const a = await register(ctx, 'A');
      const b = await register(ctx, 'B');
      const { names } = await list(a.conn);
      expectListed(names, b.name, true, 'LIST does not name another active user');
      expectListed(names, a.name, false, 'LIST names the asker');
    },
  },
  {
    id: 'p2p.02.list-empty-trailing-space',
    title: 'with nobody else active, LIST is answered "LIST " with its trailing space',
    seed: P2P_SEED.active,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const a = await register(ctx, 'A');
      const { line, names } = await list(a.conn);
      if (names.some((name) => name !== a.name)) ctx.skip('other users are active on the target');
      expectThat(
        line.text === 'LIST ',
        'the empty LIST reply is not "LIST " with a trailing space',
        '"LIST \\r\\n"',
        `"${visible(line.text)}${line.crlf ? '\\r\\n' : '\\n'}"`,
      );
    },
  },
  {
    id: 'p2p.03.addr-active',
    title: 'ADDR <name> answers ADDR <name>:<ip>:<port> with the address the server saw',
    seed: P2P_SEED.addr,
    level: 'required',
    points: 3,
    async run(ctx) {
      const a = await register(ctx, 'A');
      const b = await register(ctx, 'B');
      await b.conn.send(`ADDR ${a.name}\r\n`);
      const line = await b.conn.line('the reply to ADDR');
      const expected = `ADDR ${a.name}:${seenFrom(a.conn)}:${a.port}`;
      expectThat(
        line.text === expected,
        'the ADDR reply does not hold the name, the IP the server saw and the registered port',
        `"${expected}"`,
        `"${visible(line.text)}"`,
      );
    },
  },
  {
    id: 'p2p.04.addr-inactive-silent',
    title: 'ADDR for a name that is not active gets no reply (the next LIST is answered first)',
    seed: P2P_SEED.addr,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const a = await register(ctx, 'A');
      await a.conn.send(`ADDR ${ctx.unique('ninguem')}\r\n`);
      await list(a.conn);
    },
  },
  {
    id: 'p2p.05.replies-end-crlf',
    title: 'replies end in CRLF',
    seed: P2P_SEED.listening,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const a = await register(ctx, 'A');
      const b = await register(ctx, 'B');
      const { line } = await list(a.conn);
      await a.conn.send(`ADDR ${b.name}\r\n`);
      const addr = await a.conn.line('the reply to ADDR');
      for (const got of [line, addr])
        expectThat(
          got.crlf,
          'a reply ends in a bare LF',
          `"${visible(got.text)}\\r\\n"`,
          `"${visible(got.text)}\\n"`,
        );
    },
  },
  {
    id: 'p2p.06.disc-removes',
    title: 'DISC removes the entry and closes the connection',
    seed: P2P_SEED.active,
    level: 'recommended',
    points: 2,
    async run(ctx) {
      const a = await register(ctx, 'A');
      const b = await register(ctx, 'B');
      expectListed((await list(b.conn)).names, a.name, true, 'A is not listed before DISC');
      await a.conn.send('DISC\r\n');
      await a.conn.waitClosed('the client sent DISC');
      expectListed((await list(b.conn)).names, a.name, false, 'A is still listed after DISC');
    },
  },
  {
    id: 'p2p.07.duplicate-name-refused',
    title: 'a name that is already active is refused: that connection is closed',
    seed: P2P_SEED.port,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const a = await register(ctx, 'A');
      const copy = await ctx.connect('C');
      await copy.send(`USER ${a.name}:${a.port + 1}\r\n`);
      await copy.waitClosed('the name is already active');
      await a.conn.send(`ADDR ${a.name}\r\n`);
      const line = await a.conn.line('the reply to ADDR');
      expectThat(
        line.text.endsWith(`:${a.port}`),
        'the duplicate USER replaced the active entry',
        `the port ${a.port}`,
        `"${visible(line.text)}"`,
      );
    },
  },
  {
    id: 'p2p.08.bare-lf-accepted',
    title: 'instructions ending in a bare LF are understood',
    seed: P2P_SEED.listening,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const a = await register(ctx, 'A', '\n');
      const b = await register(ctx, 'B', '\n');
      expectListed(
        (await list(b.conn, '\n')).names,
        a.name,
        true,
        'USER and LIST ending in LF were not understood',
      );
    },
  },
  {
    id: 'p2p.09.keep-alive',
    title: 'a client that sends KEEP every few seconds stays listed past the expiry',
    seed: P2P_SEED.active,
    level: 'recommended',
    points: 1,
    slow: true,
    async run(ctx) {
      const a = await register(ctx, 'A');
      const b = await register(ctx, 'B');
      await keepAlive([a.conn, b.conn], ctx.options.keepExpiryMs * 1.5, ctx.options.keepExpiryMs);
      expectListed((await list(b.conn)).names, a.name, true, 'A sent KEEP regularly and was dropped');
    },
  },
  {
    id: 'p2p.10.keep-expiry',
    title: 'a client silent for the expiry (15 s) is dropped',
    seed: P2P_SEED.active,
    level: 'recommended',
    points: 1,
    slow: true,
    async run(ctx) {
      const expiry = ctx.options.keepExpiryMs;
      const a = await register(ctx, 'A');
      const b = await register(ctx, 'B');
      await keepAlive([b.conn], expiry * 1.2, expiry);
      const giveUp = Date.now() + expiry;
      for (;;) {
        const { names } = await list(b.conn);
        if (!names.includes(a.name)) return;
        if (Date.now() > giveUp)
          throw new CaseFailure(
            `A is still listed after ${Math.round((expiry * 2.2) / 1000)} s of silence`,
            `a LIST without ${a.name}`,
            `LIST ${names.join(':')}`,
          );
        await keepAlive([b.conn], expiry / 5, expiry);
      }
    },
  },
];

/** Sends KEEP on each connection every third of the expiry, for `ms`. */
async function keepAlive(conns: Conn[], ms: number, expiryMs: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    for (const conn of conns) await conn.send('KEEP\r\n');
    await sleep(Math.min(expiryMs / 3, until - Date.now()));
  }
}
