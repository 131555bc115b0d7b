import net from 'node:net';
import { Aedes } from 'aedes';

// Aedes with its default (in-memory) persistence, in a process of its own.
const broker = await Aedes.createBroker();
const server = net.createServer(broker.handle);
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: (server.address() as net.AddressInfo).port }));
});
