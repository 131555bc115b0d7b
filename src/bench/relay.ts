import net from 'node:net';

/**
 * The Node ceiling: a bare relay with no storage. Frames are a u32 length and a body whose first
 * byte says what it is: 0 hello (u32 id), 1 send (u32 destination, payload). It forwards the
 * payload to the destination (type 1) and acks the sender (type 2); a hello is answered with 3.
 * Like Mensageiro's connections, it writes each socket once per event-loop turn: a write per
 * frame made the ceiling a measure of syscalls, not of Node.
 */
const sockets = new Map<number, net.Socket>();
const ACK = Buffer.from([0, 0, 0, 1, 2]);
const READY = Buffer.from([0, 0, 0, 1, 3]);
const pending = new Map<net.Socket, Buffer[]>();

function queue(socket: net.Socket, bytes: Buffer): void {
  const list = pending.get(socket);
  if (list) return void list.push(bytes);
  if (pending.size === 0) setImmediate(flush);
  pending.set(socket, [bytes]);
}

function flush(): void {
  for (const [socket, list] of pending) if (!socket.destroyed) socket.write(Buffer.concat(list));
  pending.clear();
}

function frame(type: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out.writeUInt32BE(payload.length + 1, 0);
  out[4] = type;
  payload.copy(out, 5);
  return out;
}

const server = net.createServer({ noDelay: true }, (socket) => {
  let buffer: Buffer = Buffer.alloc(0);
  let id = -1;
  socket.on('error', () => undefined);
  socket.on('close', () => sockets.get(id) === socket && sockets.delete(id));
  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    let at = 0;
    while (buffer.length - at >= 4) {
      const length = buffer.readUInt32BE(at);
      if (buffer.length - at - 4 < length) break;
      const body = buffer.subarray(at + 4, at + 4 + length);
      at += 4 + length;
      if (body[0] === 0) {
        id = body.readUInt32BE(1);
        sockets.set(id, socket);
        queue(socket, READY);
      } else if (body[0] === 1) {
        const to = sockets.get(body.readUInt32BE(1));
        if (to) queue(to, frame(1, body.subarray(5)));
        queue(socket, ACK);
      }
    }
    buffer = buffer.subarray(at);
  });
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: (server.address() as net.AddressInfo).port }));
});
