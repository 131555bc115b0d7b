import type { Command } from 'commander';

/** `mensageiro bench [args]`: `npm run bench` from the checkout; its arguments go to the same parser. */
export function addBenchCommand(program: Command): void {
  program
    .command('bench')
    .description(
      'benchmark beside Mosquitto, Aedes, a bare relay, RabbitMQ and NATS JetStream (needs the repository checkout): ' +
        '--quick, --only=<peers>, --workloads=<prefixes>',
    )
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      const { runBench } = await import('../bench/run.js');
      try {
        process.exitCode = await runBench(args);
      } catch (error) {
        console.error(`bench: ${(error as Error).message}`);
        process.exitCode = 2;
      }
    });
}
