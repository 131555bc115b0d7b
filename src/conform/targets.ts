import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { MensageiroError } from '../core/errors.js';
import { runCases, type Selection } from './runner.js';
import type { Case, CaseResult, ConformEvent, RunSummary, TargetOptions } from './types.js';

export interface Target {
  name: string;
  host: string;
  port: number;
}

export function parseEndpoint(text: string): { host: string; port: number } {
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || !match[1] || port < 1 || port > 65535) {
    throw new MensageiroError('bad_request', `not host:port: ${JSON.stringify(text)}`);
  }
  return { host: match[1], port };
}

/** A class list: `name,host:port` per line; a header row and blank lines are skipped. */
export function parseTargets(text: string, file = 'targets'): Target[] {
  const rows = parse(text.replace(/^\uFEFF/, ''), {
    relax_column_count: true,
    skip_empty_lines: true,
    trim: true,
    comment: '#',
  }) as string[][];
  const targets: Target[] = [];
  rows.forEach((row, index) => {
    const [name, endpoint] = row;
    if (index === 0 && endpoint !== undefined && !/:\d+$/.test(endpoint)) return;
    if (!name || !endpoint)
      throw new MensageiroError(
        'bad_request',
        `${file}:${index + 1}: expected "name,host:port", got ${JSON.stringify(row.join(','))}`,
      );
    try {
      targets.push({ name, ...parseEndpoint(endpoint) });
    } catch (error) {
      throw new MensageiroError('bad_request', `${file}:${index + 1}: ${(error as Error).message}`);
    }
  });
  if (targets.length === 0) throw new MensageiroError('bad_request', `${file}: no targets`);
  return targets;
}

export interface TargetGrade {
  target: Target;
  summary: RunSummary;
  results: CaseResult[];
  /** The whole run, for a per-target report (`--reports`). */
  events: ConformEvent[];
}

/** Grades every target, `jobs` at a time; each target's own cases still run one by one. */
export async function gradeClass(
  dialect: string,
  cases: readonly Case[],
  targets: Target[],
  options: Omit<TargetOptions, 'host' | 'port'>,
  selection: Selection,
  jobs: number,
  onGraded?: (grade: TargetGrade) => void,
): Promise<TargetGrade[]> {
  const grades: TargetGrade[] = new Array(targets.length);
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const index = next++;
      const target = targets[index]!;
      const grade: TargetGrade = {
        target,
        summary: undefined as unknown as RunSummary,
        results: [],
        events: [],
      };
      for await (const event of runCases(
        dialect,
        cases,
        { ...options, host: target.host, port: target.port },
        selection,
      )) {
        grade.events.push(event);
        if (event.type === 'result') grade.results.push(event.result);
        else if (event.type === 'end') grade.summary = event.summary;
      }
      grades[index] = grade;
      onGraded?.(grade);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, targets.length)) }, worker));
  return grades;
}

export const statusOf = (grade: TargetGrade) =>
  grade.summary.unreachable ? 'unreachable' : grade.summary.requiredFailed > 0 ? 'required-failed' : 'ok';

/** One row per target, one column per case (pass, fail or skip), after the totals. */
export function classCsv(grades: TargetGrade[], caseIds: string[]): string {
  const header = [
    'name',
    'target',
    'status',
    'score',
    'max_score',
    'passed',
    'failed',
    'skipped',
    ...caseIds,
  ];
  const rows = grades.map((grade) => {
    const byId = new Map(grade.results.map((r) => [r.id, r.outcome]));
    const s = grade.summary;
    return [
      grade.target.name,
      `${grade.target.host}:${grade.target.port}`,
      statusOf(grade),
      s.score,
      s.maxScore,
      s.passed,
      s.failed,
      s.skipped,
      ...caseIds.map(
        (id) => ({ passed: 'pass', failed: 'fail', skipped: 'skip' })[byId.get(id) ?? 'skipped'] ?? '',
      ),
    ];
  });
  return stringify([header, ...rows]);
}

/** The readable summary of a class: one line per target, then the totals. */
export function classTable(grades: TargetGrade[]): string {
  const nameWidth = Math.max(4, ...grades.map((g) => g.target.name.length));
  const lines = grades.map((g) => {
    const s = g.summary;
    const score = g.summary.unreachable ? 'unreachable' : `${s.score}/${s.maxScore}`;
    return `${g.target.name.padEnd(nameWidth)}  ${`${g.target.host}:${g.target.port}`.padEnd(21)}  ${score.padStart(11)}  ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped  ${statusOf(g)}`;
  });
  const ok = grades.filter((g) => statusOf(g) === 'ok').length;
  const unreachable = grades.filter((g) => g.summary.unreachable).length;
  lines.push(
    `${grades.length} targets: ${ok} pass every required case, ${grades.length - ok - unreachable} fail one, ${unreachable} unreachable`,
  );
  return `${lines.join('\n')}\n`;
}

/** 0: every target passes every required case; 2: no target could be reached; 1 otherwise. */
export function classExitCode(grades: TargetGrade[]): 0 | 1 | 2 {
  if (grades.every((g) => g.summary.unreachable)) return 2;
  return grades.every((g) => statusOf(g) === 'ok') ? 0 : 1;
}

/** A file name for a target's own report: its name, with anything unsafe replaced. */
export const reportFileName = (target: Target, extension: string) =>
  `${target.name.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^\.+/, '_')}.${extension}`;
