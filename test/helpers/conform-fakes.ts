import net from 'node:net';

/**
 * Small seed servers written for the conform tests, each with switchable faults, so a test can
 * break exactly one behaviour and see that the grader notices it (and nothing else).
 */
export interface FakeServer {
  port: number;
  close(): Promise<void>;
}

async function listen(onConnection: (socket: net.Socket) => void): Promise<FakeServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Accepts and never answers, or closes every connection at once. */
export const silentServer = () => listen(() => undefined);
export const closingServer = () => listen((socket) => socket.destroy());

/** Reads what arrives until 30 ms of quiet, then hands it over: one write of the grader, one frame. */
function onIdle(socket: net.Socket, handle: (text: string) => void): void {
  let text = '';
  let timer: NodeJS.Timeout | undefined;
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
    clearTimeout(timer);
    timer = setTimeout(() => {
      const all = text;
      text = '';
      handle(all);
    }, 30);
  });
}

export type ZapFault =
  'pad12' | 'early07' | 'dropOffline' | 'noReadReceipt' | 'groupWithoutCreator' | 'noLf' | 'bytes218';

export function fakeZap(...faults: ZapFault[]): Promise<FakeServer> {
  const has = (fault: ZapFault) => faults.includes(fault);
  const id13 = (id: string | number) => String(Number(id)).padStart(13, '0');
  const online = new Map<string, net.Socket>();
  const pending = new Map<string, string[]>();
  const awaiting = new Map<string, Array<{ src: string; ts: string }>>();
  const groups = new Map<string, string[]>();
  let nextId = 100_000_000_001;
  const deliver = (to: string, frame: string) => {
    const socket = online.get(to);
    if (socket && !socket.destroyed) socket.write(has('noLf') ? frame : `${frame}\n`);
    else if (pending.has(to)) pending.get(to)!.push(frame);
  };
  return listen((socket) => {
    let me: string | null = null;
    socket.on('close', () => {
      if (me && online.get(me) === socket) online.delete(me);
    });
    const frame = (text: string): void => {
      const code = text.slice(0, 2);
      if (code === '01') {
        const id = id13(nextId++ + Math.floor(Math.random() * 1000) * 1000);
        pending.set(id, []);
        socket.write(`02${has('pad12') ? id.slice(1) : id}${has('noLf') ? '' : '\n'}`);
        return frame(text.slice(2));
      }
      if (code === '03') {
        const id = id13(text.slice(2, 15));
        if (!pending.has(id)) return void socket.destroy();
        me = id;
        online.set(id, socket);
        for (const f of pending.get(id)!.splice(0)) deliver(id, f);
        for (const { src, ts } of awaiting.get(id)?.splice(0) ?? []) deliver(src, `07${id}${ts}`);
        return frame(text.slice(15));
      }
      if (code === '05') {
        const [src, dst, ts, data] = [
          text.slice(2, 15),
          text.slice(15, 28),
          text.slice(28, 38),
          text.slice(38),
        ];
        const body = has('bytes218') ? Buffer.from(data).subarray(0, 218).toString('utf8') : data;
        const members = groups.get(dst);
        if (members) {
          for (const member of members) if (member !== src) deliver(member, `06${src}${dst}${ts}${body}`);
          return;
        }
        if (has('early07')) deliver(src, `07${dst}${ts}`);
        if (online.has(dst)) {
          deliver(dst, `06${src}${dst}${ts}${body}`);
          if (!has('early07')) deliver(src, `07${dst}${ts}`);
        } else if (!has('dropOffline')) {
          deliver(dst, `06${src}${dst}${ts}${body}`);
          if (!has('early07')) awaiting.set(dst, [...(awaiting.get(dst) ?? []), { src, ts }]);
        }
        return;
      }
      if (code === '08' && me) {
        if (!has('noReadReceipt')) deliver(text.slice(2, 15), `09${me}${text.slice(15, 25)}`);
        return frame(text.slice(25));
      }
      if (code === '10') {
        const creator = text.slice(2, 15);
        const members = text.slice(25).match(/\d{13}/g) ?? [];
        const gid = id13(nextId++);
        const everyone = [creator, ...members];
        groups.set(gid, everyone);
        const listed = has('groupWithoutCreator') ? members : everyone;
        for (const member of everyone) deliver(member, `11${gid}${text.slice(15, 25)}${listed.join('')}`);
      }
    };
    onIdle(socket, (text) => frame(text.replace(/\n$/, '')));
  });
}

export type MmFault = 'keepUnknown' | 'noF' | 'noNotice' | 'repeat' | 'plainFormat' | 'dropOffline';

export function fakeMm(users: string[], ...faults: MmFault[]): Promise<FakeServer> {
  const has = (fault: MmFault) => faults.includes(fault);
  const pending = new Map(users.map((user) => [user, [] as string[]]));
  const connected = new Map<string, number>();
  return listen((socket) => {
    let me: string | null = null;
    let buffer = '';
    const flush = (notices: string[] = []) => {
      const lines = [...notices, ...pending.get(me!)!];
      if (!has('repeat')) pending.get(me!)!.length = 0;
      socket.write(lines.map((line) => `${line}\n`).join('') + (has('noF') ? '' : 'f\n'));
    };
    socket.on('close', () => me && connected.set(me, (connected.get(me) ?? 1) - 1));
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let lf: number;
      while ((lf = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, lf);
        buffer = buffer.slice(lf + 1);
        if (me === null) {
          if (!pending.has(line)) {
            socket.write(`@mensageiro unknown user ${line}\n`);
            if (!has('keepUnknown')) socket.end();
            continue;
          }
          me = line;
          connected.set(me, (connected.get(me) ?? 0) + 1);
          flush();
          continue;
        }
        const send = /^@(\S+) (.+)$/.exec(line);
        if (!send) {
          flush(line === '' ? [] : ['@mensageiro usage: @user message']);
          continue;
        }
        const [, dest, text] = send;
        if (!pending.has(dest!)) {
          flush(has('noNotice') ? [] : [`@mensageiro unknown user ${dest}`]);
          continue;
        }
        if (!has('dropOffline') || (connected.get(dest!) ?? 0) > 0) {
          pending.get(dest!)!.push(has('plainFormat') ? `${me}: ${text}` : `@${me} ${text}`);
        }
        flush();
      }
    });
  });
}

export type LobbyFault = 'broadcastD' | 'charLength' | 'notToSender';

export function fakeLobby(...faults: LobbyFault[]): Promise<FakeServer> {
  const has = (fault: LobbyFault) => faults.includes(fault);
  const clients = new Set<net.Socket>();
  return listen((socket) => {
    clients.add(socket);
    socket.on('close', () => clients.delete(socket));
    const author = `('${socket.remoteAddress!.replace(/^::ffff:/, '')}', ${socket.remotePort})`;
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (buffer.length < 64) return;
        const length = Number(
          buffer
            .subarray(0, 64)
            .toString('latin1')
            .replace(/[\s\0]/g, ''),
        );
        const rest = buffer.subarray(64);
        // The char-length fault reads the header as characters, as a str-based server would.
        const payload = has('charLength')
          ? [...rest.toString('utf8')].slice(0, length).join('')
          : rest.subarray(0, length).toString('utf8');
        const used = Buffer.byteLength(payload);
        if (has('charLength') ? [...payload].length < length : rest.length < length) return;
        buffer = buffer.subarray(64 + used);
        if (payload === ':D' && !has('broadcastD')) return void socket.end();
        const line = `[${new Date().toString().slice(0, 3)} Jan  1 00:00:00 2024][${author}]: ${payload}\n`;
        for (const client of clients) if (client !== socket || !has('notToSender')) client.write(line);
        if (payload === ':D') return void socket.end();
      }
    });
  });
}

export type NativeFault = 'charLength';

export function fakeNative(...faults: NativeFault[]): Promise<FakeServer> {
  const clients = new Map<number, net.Socket>();
  return listen((socket) => {
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const comma = buffer.indexOf(0x2c);
        if (comma < 0) return;
        const length = Number(buffer.subarray(0, comma).toString('latin1').trim());
        if (buffer.length < comma + 1 + length) return;
        const message = JSON.parse(buffer.subarray(comma + 1, comma + 1 + length).toString('utf8')) as Record<
          string,
          unknown
        >;
        buffer = buffer.subarray(comma + 1 + length);
        if (message.type === 'new') clients.set(Number(message.id), socket);
        if (message.type === 'out') return void socket.end();
        if (message.type === 'msg') {
          const json = JSON.stringify(message);
          const size = faults.includes('charLength') ? [...json].length : Buffer.byteLength(json);
          clients.get(Number(message.to))?.write(`${size},${json}`);
        }
      }
    });
  });
}

export type P2pFault = 'bareList' | 'wrongIp' | 'lfOnly' | 'noExpiry' | 'discKeeps';

export function fakeP2p(expiryMs: number, ...faults: P2pFault[]): Promise<FakeServer> {
  const has = (fault: P2pFault) => faults.includes(fault);
  const active = new Map<string, { socket: net.Socket; ip: string; port: number; seen: number }>();
  const eol = has('lfOnly') ? '\n' : '\r\n';
  const sweep = setInterval(() => {
    if (has('noExpiry')) return;
    for (const [name, entry] of active)
      if (Date.now() - entry.seen > expiryMs) {
        active.delete(name);
        entry.socket.destroy();
      }
  }, expiryMs / 4);
  return listen((socket) => {
    let me: string | null = null;
    let buffer = '';
    socket.on('close', () => me && active.get(me)?.socket === socket && active.delete(me));
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      if (me) active.get(me)!.seen = Date.now();
      let lf: number;
      while ((lf = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, lf).replace(/\r$/, '');
        buffer = buffer.slice(lf + 1);
        const [word, arg = ''] = line.split(' ');
        if (word === 'USER') {
          const [name, port] = arg.split(':');
          if (active.has(name!)) return void socket.destroy();
          me = name!;
          const ip = has('wrongIp') ? '0.0.0.0' : socket.remoteAddress!.replace(/^::ffff:/, '');
          active.set(me, { socket, ip, port: Number(port), seen: Date.now() });
        } else if (word === 'LIST') {
          const names = [...active.keys()].filter((name) => name !== me);
          socket.write(names.length || !has('bareList') ? `LIST ${names.join(':')}${eol}` : `LIST${eol}`);
        } else if (word === 'ADDR') {
          const entry = active.get(arg);
          if (entry) socket.write(`ADDR ${arg}:${entry.ip}:${entry.port}${eol}`);
        } else if (word === 'DISC') {
          if (!has('discKeeps')) {
            active.delete(me!);
            socket.end();
          }
        }
      }
    });
  }).then((server) => ({
    ...server,
    close: () => {
      clearInterval(sweep);
      return server.close();
    },
  }));
}
