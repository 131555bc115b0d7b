import net from 'node:net';
import crypto from 'node:crypto';
import { Conn } from './conn.js';
import { Transcript } from './transcript.js';
import {
  CaseFailure,
  CaseSkip,
  type Case,
  type CaseContext,
  type CaseInfo,
  type CaseResult,
  type ConformEvent,
  type RunSummary,
  type TargetOptions,
} from './types.js';

export interface Selection {
  /** Ids or id prefixes (`zap.05`, `zap`); empty selects every case. */
  only: string[];
  quick: boolean;
  extended: boolean;
}

/** The cases a run will report on, in table order. */
export function selectCases<T extends CaseInfo>(cases: readonly T[], selection: Selection): T[] {
  return cases.filter(
    (c) =>
      (selection.extended || !c.extended) &&
      (selection.only.length === 0 || selection.only.some((prefix) => matches(c.id, prefix))),
  );
}

function matches(id: string, prefix: string): boolean {
  return (
    id === prefix || id.startsWith(prefix.endsWith('.') ? prefix : `${prefix}.`) || id.startsWith(prefix)
  );
}

export function infoOf(c: CaseInfo): CaseInfo {
  const { id, title, seed, level, points, slow, extended } = c;
  return { id, title, seed, level, points, ...(slow ? { slow } : {}), ...(extended ? { extended } : {}) };
}

/** Can anything be reached at host:port at all? An unreachable target ends the run with exit 2. */
export function probe(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`no answer to a TCP connect within ${timeoutMs} ms`);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(null);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      resolve(error.message);
    });
  });
}

/**
 * Runs the cases one after another, each on fresh connections with its own deadline, and
 * yields events; reporters turn the events into text. Nothing here formats output.
 */
export async function* runCases(
  dialect: string,
  cases: readonly Case[],
  options: TargetOptions,
  selection: Selection,
): AsyncGenerator<ConformEvent> {
  const target = `${options.host}:${options.port}`;
  const selected = selectCases(cases, selection);
  const started = Date.now();
  yield { type: 'plan', dialect, target, cases: selected.map(infoOf) };
  const summary: RunSummary = {
    target,
    passed: 0,
    failed: 0,
    skipped: 0,
    score: 0,
    maxScore: 0,
    requiredFailed: 0,
    unreachable: false,
    durationMs: 0,
  };
  const unreachable = await probe(options.host, options.port, Math.min(options.timeoutMs, 5000));
  if (unreachable !== null) {
    summary.unreachable = true;
    yield { type: 'unreachable', target, error: unreachable };
    summary.durationMs = Date.now() - started;
    yield { type: 'end', summary };
    return;
  }
  for (const c of selected) {
    yield { type: 'start', id: c.id };
    const result =
      c.slow && selection.quick
        ? resultOf(c, 'skipped', 0, { message: 'slow case; left out by --quick' })
        : await runOne(c, options);
    tally(summary, result);
    yield { type: 'result', result };
  }
  summary.durationMs = Date.now() - started;
  yield { type: 'end', summary };
}

export function tally(summary: RunSummary, result: CaseResult): void {
  if (result.outcome === 'skipped') {
    summary.skipped++;
    return;
  }
  summary.maxScore += result.points;
  if (result.outcome === 'passed') {
    summary.passed++;
    summary.score += result.points;
  } else {
    summary.failed++;
    if (result.level === 'required') summary.requiredFailed++;
  }
}

export function resultOf(
  c: CaseInfo,
  outcome: CaseResult['outcome'],
  durationMs: number,
  extra: Partial<CaseResult> = {},
): CaseResult {
  return {
    id: c.id,
    title: c.title,
    level: c.level,
    points: c.points,
    seed: c.seed,
    outcome,
    durationMs,
    ...extra,
  };
}

async function runOne(c: Case, options: TargetOptions): Promise<CaseResult> {
  const transcript = new Transcript();
  const conns: Conn[] = [];
  const started = Date.now();
  // A slow case waits on the target's own timer (p2p's expiry) on top of the usual budget.
  const budget = options.timeoutMs + (c.slow ? 3 * options.keepExpiryMs : 0);
  const deadline = started + budget;
  let labels = 0;
  const ctx: CaseContext = {
    options,
    transcript,
    quietMs: Math.max(100, Math.min(1000, Math.floor(options.timeoutMs / 5))),
    connect: async (label) => {
      const conn = await Conn.open(
        options.host,
        options.port,
        label ?? String.fromCharCode(65 + labels++),
        transcript,
        () => deadline,
      );
      conns.push(conn);
      return conn;
    },
    unique: (prefix = 'c') => `${prefix}${crypto.randomBytes(4).toString('hex')}`,
    skip: (reason) => {
      throw new CaseSkip(reason);
    },
  };
  let guard: NodeJS.Timeout | undefined;
  // A step that ignores the deadline (a write that never drains) still cannot hold the run.
  const overrun = new Promise<never>((_, reject) => {
    guard = setTimeout(
      () => reject(new CaseFailure(`the case did not finish within ${budget} ms`)),
      budget + 1000,
    );
  });
  try {
    await Promise.race([c.run(ctx), overrun]);
    return resultOf(c, 'passed', Date.now() - started);
  } catch (error) {
    const durationMs = Date.now() - started;
    if (error instanceof CaseSkip) return resultOf(c, 'skipped', durationMs, { message: error.message });
    const failure =
      error instanceof CaseFailure ? error : new CaseFailure(`internal error: ${(error as Error).message}`);
    return resultOf(c, 'failed', durationMs, {
      message: failure.message,
      ...(failure.expected !== undefined ? { expected: failure.expected } : {}),
      ...(failure.actual !== undefined ? { actual: failure.actual } : {}),
      transcript: transcript.render(),
    });
  } finally {
    clearTimeout(guard);
    for (const conn of conns) conn.close();
  }
}
