import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { MensageiroError } from '../core/errors.js';
import { CASES } from '../conform/cases/index.js';
import { reporterFor, REPORTER_NAMES, summaryLine, type ReporterName } from '../conform/reporters/index.js';
import { runCases, selectCases, type Selection } from '../conform/runner.js';
import { CLIENT_CASES, DEFAULT_PORTS, serveAndGrade } from '../conform/serve/index.js';
import {
  classCsv,
  classExitCode,
  classTable,
  gradeClass,
  parseEndpoint,
  parseTargets,
  reportFileName,
} from '../conform/targets.js';
import {
  DIALECTS,
  exitCodeOf,
  type CaseInfo,
  type ConformEvent,
  type DialectName,
  type RunSummary,
} from '../conform/types.js';

interface ConformOptions {
  list?: boolean;
  only?: string;
  timeout?: string;
  users?: string;
  quick?: boolean;
  extended?: boolean;
  keepExpiry: string;
  reporter: ReporterName;
  out?: string;
  serve?: string;
  port?: string;
  host: string;
  targets?: string;
  reports?: string;
  jobs: string;
  color: boolean;
}

function dialectOf(name: string | undefined): DialectName {
  if (!name || !(DIALECTS as readonly string[]).includes(name)) {
    throw new MensageiroError(
      'bad_request',
      `dialect must be one of ${DIALECTS.join(', ')}; got ${JSON.stringify(name ?? '')}`,
    );
  }
  return name as DialectName;
}

function positive(text: string | undefined, what: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new MensageiroError(
      'bad_request',
      `${what} must be a positive number, got ${JSON.stringify(text)}`,
    );
  return value;
}

const EXTENSIONS: Record<ReporterName, string> = { table: 'txt', tap: 'tap', junit: 'xml', json: 'json' };

const listOf = (text: string | undefined) =>
  (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Writes the report, then makes sure the last line on stdout is the totals. */
async function report(
  events: AsyncIterable<ConformEvent>,
  options: ConformOptions,
): Promise<RunSummary | null> {
  let summary: RunSummary | null = null;
  async function* watched() {
    for await (const event of events) {
      if (event.type === 'end') summary = event.summary;
      yield event;
    }
  }
  const colour = !options.out && options.color && process.stdout.isTTY === true && !process.env.NO_COLOR;
  const reporter = reporterFor(options.reporter, colour);
  const file = options.out ? fs.openSync(options.out, 'w') : null;
  for await (const text of reporter(watched())) {
    if (file === null) process.stdout.write(text);
    else fs.writeSync(file, text);
  }
  if (file !== null) fs.closeSync(file);
  const documentOnStdout = file === null && (options.reporter === 'junit' || options.reporter === 'json');
  if (summary && (file !== null || documentOnStdout))
    (documentOnStdout ? process.stderr : process.stdout).write(`${summaryLine(summary)}\n`);
  return summary;
}

function printList(cases: CaseInfo[]): void {
  for (const c of cases) {
    const marks = [
      c.level,
      `${c.points} pt`,
      ...(c.slow ? ['slow'] : []),
      ...(c.extended ? ['extended'] : []),
    ];
    process.stdout.write(`${c.id}  ${c.title} [${marks.join(', ')}]\n`);
  }
}

export function addConformCommand(program: Command): void {
  program
    .command('conform')
    .description('grade a server (or, with --serve, a client) against a seed protocol')
    .argument('[dialect]', `${DIALECTS.join(' | ')}`)
    .argument('[target]', 'host:port of the server to grade')
    .option('--list', 'print the cases (id, then title) and exit')
    .option('--only <ids>', 'comma-separated case ids or prefixes (zap.05, zap.1)')
    .option(
      '--timeout <ms>',
      'per-case budget; with --serve, how long to wait for the client (default 5000; --serve 120000)',
    )
    .option('--users <names>', 'mm: comma-separated users that exist on the target')
    .option('--quick', 'skip slow cases (p2p KEEP expiry)')
    .option('--extended', 'native: also the cases beyond seed 000 (register, sent, errors, ping)')
    .option('--keep-expiry <ms>', 'p2p: how long the target keeps a silent client', '15000')
    .addOption(new Option('--reporter <name>', 'output format').choices([...REPORTER_NAMES]).default('table'))
    .option('--out <file>', 'write the report (or, with --targets, the CSV) to a file')
    .option('--serve <dialect>', 'grade a client: run a reference server for it to connect to')
    .option('--port <n>', 'with --serve: the port to listen on (default: the dialect’s own)')
    .option('--host <host>', 'with --serve: the address to listen on', '127.0.0.1')
    .option('--targets <csv>', 'grade a class: a CSV of name,host:port')
    .option(
      '--reports <dir>',
      'with --targets: also write each target’s own report (in --reporter format) to <dir>',
    )
    .option('--jobs <n>', 'with --targets: targets graded at once', '4')
    .option('--no-color', 'no colour in the table')
    .action(async (dialectArg: string | undefined, target: string | undefined, options: ConformOptions) => {
      const dialect = dialectOf(options.serve ?? dialectArg);
      const selection: Selection = {
        only: listOf(options.only),
        quick: options.quick === true,
        extended: options.extended === true,
      };
      if (options.list) {
        printList(
          selectCases<CaseInfo>(options.serve ? CLIENT_CASES[dialect] : CASES[dialect], {
            ...selection,
            extended: true,
          }),
        );
        return;
      }
      const users = listOf(options.users);
      if (dialect === 'mm' && !options.serve && users.length < 2) {
        throw new MensageiroError(
          'bad_request',
          'mm cases need two users that exist on the target: --users alice,bob',
        );
      }
      if (options.serve) {
        const events = serveAndGrade({
          dialect,
          host: options.host,
          port: options.port === undefined ? DEFAULT_PORTS[dialect] : Number(options.port),
          timeoutMs: positive(options.timeout, '--timeout', 120_000),
          lingerMs: 500,
          users,
          selection,
          onReady: (_port, message) => process.stderr.write(`${message}\n`),
        });
        const summary = await report(events, options);
        process.exitCode = summary ? exitCodeOf(summary) : 1;
        return;
      }
      const base = {
        timeoutMs: positive(options.timeout, '--timeout', 5000),
        users,
        keepExpiryMs: positive(options.keepExpiry, '--keep-expiry', 15_000),
      };
      if (options.targets) {
        const targets = parseTargets(fs.readFileSync(options.targets, 'utf8'), options.targets);
        const cases = selectCases(CASES[dialect], selection);
        const grades = await gradeClass(
          dialect,
          CASES[dialect],
          targets,
          base,
          selection,
          positive(options.jobs, '--jobs', 4),
          (grade) => process.stderr.write(`graded ${grade.target.name}: ${summaryLine(grade.summary)}\n`),
        );
        const csvFile =
          options.out ??
          `${path.basename(options.targets, path.extname(options.targets))}-${dialect}-results.csv`;
        fs.writeFileSync(
          csvFile,
          classCsv(
            grades,
            cases.map((c) => c.id),
          ),
        );
        if (options.reports) {
          fs.mkdirSync(options.reports, { recursive: true });
          const reporter = reporterFor(options.reporter, false);
          for (const grade of grades) {
            let text = '';
            for await (const chunk of reporter(grade.events)) text += chunk;
            fs.writeFileSync(
              path.join(options.reports, reportFileName(grade.target, EXTENSIONS[options.reporter])),
              text,
            );
          }
        }
        process.stdout.write(`${classTable(grades)}results by case: ${csvFile}\n`);
        process.exitCode = classExitCode(grades);
        return;
      }
      if (!target)
        throw new MensageiroError(
          'bad_request',
          'give the target as host:port (or --targets class.csv, or --serve <dialect>)',
        );
      const summary = await report(
        runCases(dialect, CASES[dialect], { ...base, ...parseEndpoint(target) }, selection),
        options,
      );
      process.exitCode = summary ? exitCodeOf(summary) : 1;
    });
}
