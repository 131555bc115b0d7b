import type { Command } from 'commander';
import { P2pPeer } from '../client/p2p-peer.js';
import { endpointOf } from './chat-command.js';
import { Terminal } from './terminal.js';

const HELP = [
  '/list             who is active in the directory',
  '/chat <name>      open a chat with <name> (or switch to it)',
  '/peers            open chats; lines go to the one marked *',
  '@<name> <text>    send one line to <name>',
  '/bye [name]       end the current chat (or the one with <name>)',
  '/exit             leave the directory and quit',
  '/help             this list',
];

export function addP2pCommand(program: Command): void {
  program
    .command('p2p')
    .description('chat peer to peer, finding peers through a seed-003 directory server')
    .argument('<name>', 'your name in the directory')
    .option('--server <host:port>', 'directory server', '127.0.0.1:10000')
    .option('--keepalive <ms>', 'KEEP interval', '5000')
    .action(async (name: string, options: { server: string; keepalive: string }) => {
      const endpoint = endpointOf({ server: options.server }, 'p2p');
      const peer = new P2pPeer(name, Number(options.keepalive));
      const terminal = new Terminal(process.stdin, process.stdout, `${name}> `);
      peer.on('message', (from, text) => terminal.print(`${from} diz: ${text}`));
      peer.on('joined', (who) => terminal.print(`* ${who} conectou`));
      peer.on('left', (who) => terminal.print(`* ${who} saiu`));
      peer.on('offline', () => terminal.print('* the directory server closed the connection'));
      await peer.start(endpoint.host, endpoint.port);
      terminal.print(
        `listening on port ${peer.port}, registered as ${name} at ${endpoint.host}:${endpoint.port}; /help for commands`,
      );
      terminal.prompt();
      await new Promise<void>((resolve) => {
        let exiting = false;
        const exit = () => {
          if (exiting) return;
          exiting = true;
          void peer.stop().then(() => {
            terminal.close();
            resolve();
          });
        };
        terminal.onClose(exit);
        terminal.onLine(
          (line) => void handle(line.trim()).catch((error: Error) => terminal.print(`* ${error.message}`)),
        );

        async function handle(line: string): Promise<void> {
          if (line === '') return;
          const [command, ...rest] = line.split(/\s+/);
          const argument = rest.join(' ');
          switch (command) {
            case '/help':
              for (const row of HELP) terminal.print(row);
              return;
            case '/list': {
              const names = await peer.list();
              terminal.print(names.length ? `active: ${names.join(', ')}` : 'nobody else is active');
              return;
            }
            case '/chat':
              if (!argument) return terminal.print('* usage: /chat <name>');
              if (await peer.chat(argument)) terminal.print(`* chatting with ${argument}`);
              else terminal.print(`* user not found: ${argument}`);
              return;
            case '/peers': {
              const open = peer.connectedPeers();
              terminal.print(
                open.length ? open.map((p) => (p === peer.current ? `*${p}` : p)).join(' ') : 'no open chats',
              );
              return;
            }
            case '/bye':
              if (!peer.bye(argument || peer.current)) terminal.print('* no active P2P connection');
              return;
            case '/exit':
              return exit();
          }
          const direct = /^@(\S+)\s+(.+)$/.exec(line);
          if (direct) {
            if (!peer.send(direct[2]!, direct[1]!))
              terminal.print(`* no active P2P connection with ${direct[1]}`);
            return;
          }
          if (line.startsWith('/')) return terminal.print(`* unknown command ${command}; /help lists them`);
          if (!peer.send(line)) terminal.print('* no active P2P connection; /chat <name> first');
        }
      });
    });
}
