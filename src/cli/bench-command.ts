import type { Command } from 'commander';

export function addBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('benchmark beside Mosquitto, Aedes and a bare relay (needs the repository checkout)')
    .option('--quick', 'small counts; checks only that every message arrives once')
    .option('--only <peers>', 'comma-separated: mensageiro,mosquitto,aedes,relay')
    .action(async (options: { quick?: boolean; only?: string }) => {
      const { runBench } = await import('../bench/run.js');
      const args = [
        ...(options.quick ? ['--quick'] : []),
        ...(options.only ? [`--only=${options.only}`] : []),
      ];
      process.exitCode = await runBench(args);
    });
}
