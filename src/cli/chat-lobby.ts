import { LobbyClient } from '../client/lobby-client.js';
import type { Endpoint } from './chat-command.js';
import { Terminal } from './terminal.js';

/** The seed-004 lobby: every line typed is broadcast to the room; /quit sends `:D`. */
export async function runLobbyChat(endpoint: Endpoint): Promise<void> {
  const terminal = new Terminal();
  const client = new LobbyClient();
  client.on('line', (line) => terminal.print(line));
  await client.connect(endpoint.host, endpoint.port);
  terminal.print(`in the lobby at ${endpoint.host}:${endpoint.port}; type to talk, /quit to leave`);
  const connection = {
    hangUp: () => client.leave(),
    onClosed: (callback: () => void) => client.on('close', callback),
  };
  await terminal.session(connection, (line) => {
    if (line.trim() === '/quit') client.leave();
    else if (line.length > 0) client.say(line);
  });
}
