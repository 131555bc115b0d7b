// Two accounts talk through a running server (npm start): node examples/sdk-example.mjs
import { Client } from 'mensageiro';

const server = { host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 7333) };

const alice = new Client({ ...server, register: {} });
const bob = new Client({ ...server, register: {} });
await Promise.all([alice.connect(), bob.connect()]);
console.log(`alice is ${alice.id}, bob is ${bob.id}`);

bob.on('message', (message) => {
  console.log(`bob got "${message.text}" from ${message.from}`);
  bob.markRead(message.from, message.mid);
});
alice.on('receipt', (receipt) => {
  console.log(`alice: message ${receipt.mid} ${receipt.status} by ${receipt.by}`);
  if (receipt.status === 'read') {
    alice.close();
    bob.close();
  }
});

const ack = await alice.send(bob.id, 'oi, bob!');
console.log(`durably stored as message ${ack.mid}`);
