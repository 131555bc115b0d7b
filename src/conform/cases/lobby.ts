import type { Case, CaseContext, SeedQuote } from '../types.js';
import { sleep, type Conn, type Parsed } from '../conn.js';
import { expectThat } from '../check.js';
import { visible } from '../transcript.js';

const file = '004_557c775aeea6831d.txt';
const quote = (text: string): SeedQuote => ({ file, text });
export const LOBBY_SEED = {
  handler: quote(
    'O loop no `handler` processa a comunicação com o cliente, recebendo mensagens, verificando o cabeçalho para determinar o tamanho da mensagem e enviando mensagens de volta para o cliente.',
  ),
  chat: quote(
    'Um protocolo de chat em um contexto de rede de computadores é um conjunto de regras e padrões que governam a comunicação entre os clientes de chat, permitindo que eles troquem mensagens em tempo real.',
  ),
  header: quote(
    "Ele tem um tamanho fixo de 64 bytes ('HEADER = 64'). O cabeçalho é usado para informar o servidor sobre o tamanho da mensagem real que será enviada, permitindo que o servidor saiba quantos bytes esperar.",
  ),
  disconnect: quote(
    'O valor ":D" é definido como a mensagem de desconexão (`DISCONNECT = \':D\'`). Quando um cliente envia essa mensagem, o servidor entende que o cliente deseja se desconectar.',
  ),
  threads: quote(
    'O servidor usa um socket para aceitar conexões de clientes e iniciar threads para lidar com cada conexão.',
  ),
};

/** The course client's framing: the UTF-8 byte length in ASCII, padded to 64 bytes, then the payload. */
export function headed(text: string, pad = ' '): Buffer {
  const payload = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from(String(payload.length).padEnd(64, pad), 'latin1'), payload]);
}

/** Waits for a broadcast holding `token` (with or without an LF after it) and returns its line. */
function lineWith(token: string) {
  return (unread: Buffer): Parsed<{ line: string; lf: boolean }> => {
    const text = unread.toString('utf8');
    const at = text.indexOf(token);
    if (at < 0) return undefined;
    const start = text.lastIndexOf('\n', at) + 1;
    const lf = text.indexOf('\n', at);
    const end = lf < 0 ? at + token.length : lf;
    return {
      value: { line: text.slice(start, end).replace(/\r$/, ''), lf: lf >= 0 },
      length: Buffer.byteLength(text.slice(0, lf < 0 ? end : lf + 1)),
    };
  };
}

/** Waits until every token has arrived, in any order; returns all the text up to then. */
function allOf(tokens: string[]) {
  return (unread: Buffer): Parsed<string> => {
    const text = unread.toString('utf8');
    return tokens.every((token) => text.includes(token)) ? { value: text, length: unread.length } : undefined;
  };
}

const broadcast = (conn: Conn, token: string, who: string) =>
  conn.read(lineWith(token), `the broadcast of "${token}" at ${who}`, `a line ending in ": ${token}"`);

/** Lobby clients get no greeting, so nothing tells them the server has taken them in yet. */
const JOIN_PAUSE_MS = 150;

async function clients(ctx: CaseContext, n: number): Promise<Conn[]> {
  const conns: Conn[] = [];
  for (let i = 0; i < n; i++) conns.push(await ctx.connect());
  await sleep(JOIN_PAUSE_MS);
  return conns;
}

const CTIME =
  '(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123]\\d \\d\\d:\\d\\d:\\d\\d \\d{4}';
const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export const LOBBY_CASES: Case[] = [
  {
    id: 'lobby.01.echo-to-sender',
    title: 'a message comes back to the client that sent it',
    seed: LOBBY_SEED.handler,
    level: 'required',
    points: 2,
    async run(ctx) {
      const [a] = await clients(ctx, 1);
      const text = ctx.unique('ola ');
      await a!.send(headed(text));
      await broadcast(a!, text, 'A');
    },
  },
  {
    id: 'lobby.02.broadcast-to-others',
    title: 'a message reaches every other connected client',
    seed: LOBBY_SEED.chat,
    level: 'required',
    points: 3,
    async run(ctx) {
      const [a, b] = await clients(ctx, 2);
      const text = ctx.unique('para todos ');
      await a!.send(headed(text));
      await broadcast(b!, text, 'B');
    },
  },
  {
    id: 'lobby.03.line-format',
    title: "a broadcast reads [<ctime>][('<ip>', <port>)]: <msg> and ends in LF",
    seed: LOBBY_SEED.handler,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const [a] = await clients(ctx, 1);
      const text = ctx.unique('formato ');
      await a!.send(headed(text));
      const got = await broadcast(a!, text, 'A');
      const ip = (a!.socket.localAddress ?? '').replace(/^::ffff:/, '');
      const author = `('${ip}', ${a!.localPort})`;
      const pattern = new RegExp(`^\\[${CTIME}\\]\\[${escapeRegex(author)}\\]: ${escapeRegex(text)}$`);
      expectThat(
        pattern.test(got.line) && got.lf,
        'the broadcast is not [ctime][(ip, port)]: msg followed by LF',
        `"[Wed Nov  1 16:56:54 2023][${author}]: ${text}\\n"`,
        `"${visible(got.line)}${got.lf ? '\\n' : ''}"`,
      );
    },
  },
  {
    id: 'lobby.04.header-byte-length',
    title: 'the 64-byte header counts UTF-8 bytes; two messages in one write both arrive whole',
    seed: LOBBY_SEED.header,
    level: 'required',
    points: 3,
    async run(ctx) {
      const [a] = await clients(ctx, 1);
      const first = ctx.unique('ação ☕ ');
      const second = ctx.unique('coração 🙂 ');
      await a!.send(Buffer.concat([headed(first), headed(second)]));
      await broadcast(a!, first, 'A');
      await broadcast(a!, second, 'A');
    },
  },
  {
    id: 'lobby.05.disconnect-closes',
    title: ':D makes the server close that connection',
    seed: LOBBY_SEED.disconnect,
    level: 'required',
    points: 2,
    async run(ctx) {
      const [a] = await clients(ctx, 1);
      await a!.send(headed(':D'));
      await a!.waitClosed('the client sent :D');
    },
  },
  {
    id: 'lobby.06.disconnect-not-broadcast',
    title: ':D is not broadcast to the other clients',
    seed: LOBBY_SEED.disconnect,
    level: 'required',
    points: 2,
    async run(ctx) {
      const [a, b] = await clients(ctx, 2);
      await a!.send(headed(':D'));
      const marker = ctx.unique('depois ');
      await b!.send(headed(marker));
      const seen = await b!.read(
        allOf([marker]),
        'the broadcast that follows the :D',
        `": ${marker}" and nothing with :D before it`,
      );
      expectThat(!seen.includes(':D'), ':D was broadcast', 'no line carrying :D', `"${visible(seen)}"`);
    },
  },
  {
    id: 'lobby.07.split-header',
    title: 'a header and payload split over several writes are joined',
    seed: LOBBY_SEED.header,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const [a] = await clients(ctx, 1);
      const text = ctx.unique('em partes ');
      const bytes = headed(text);
      for (const [from, to] of [
        [0, 10],
        [10, 64],
        [64, 70],
        [70, bytes.length],
      ] as const) {
        await a!.sendFrame(bytes.subarray(from, to), 40);
      }
      await broadcast(a!, text, 'A');
    },
  },
  {
    id: 'lobby.08.several-clients',
    title: 'three clients each send one message; each receives all three',
    seed: LOBBY_SEED.threads,
    level: 'required',
    points: 2,
    async run(ctx) {
      const conns = await clients(ctx, 3);
      const texts = conns.map(() => ctx.unique('todos '));
      for (const [i, conn] of conns.entries()) await conn.send(headed(texts[i]!));
      for (const [i, conn] of conns.entries())
        await conn.read(allOf(texts), `all three messages at client ${i + 1}`, texts.join(', '));
    },
  },
  {
    id: 'lobby.09.nul-padding',
    title: 'a header padded with NULs instead of spaces is read',
    seed: LOBBY_SEED.header,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const [a] = await clients(ctx, 1);
      const text = ctx.unique('nulos ');
      await a!.send(headed(text, '\0'));
      await broadcast(a!, text, 'A');
    },
  },
];
