#!/usr/bin/env -S node --max-semi-space-size=64
import { Command } from 'commander';
import { isMensageiroError } from '../core/errors.js';
import { addAdminCommand } from './admin-command.js';
import { addBackupCommands } from './backup-command.js';
import { addBenchCommand } from './bench-command.js';
import { addChatCommand } from './chat-command.js';
import { addConformCommand } from './conform-command.js';
import { addOneShotCommands } from './oneshot-commands.js';
import { addP2pCommand } from './p2p-command.js';
import { addProfileCommand } from './profile-command.js';
import { addServerCommand } from './server-command.js';

// `mensageiro ... | head` closes the pipe early; the reader has what it wanted, so that is no failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const program = new Command()
  .name('mensageiro')
  .description('Instant messaging on one durable core, spoken in five classroom protocols')
  .version('0.1.0');

addServerCommand(program);
addChatCommand(program);
addP2pCommand(program);
addOneShotCommands(program);
addProfileCommand(program);
addBenchCommand(program);
addConformCommand(program);
addBackupCommands(program);
addAdminCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(
    `mensageiro: ${isMensageiroError(error) || error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
});
