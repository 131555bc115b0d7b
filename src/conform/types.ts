import type { Transcript } from './transcript.js';
import type { Conn } from './conn.js';

export type DialectName = 'zap' | 'mm' | 'p2p' | 'lobby' | 'native';
export const DIALECTS: readonly DialectName[] = ['zap', 'mm', 'p2p', 'lobby', 'native'];

/** `required`: the seed says so. `recommended`: PROTOCOLS.md's choice where the seed is silent. */
export type Level = 'required' | 'recommended';

export interface SeedQuote {
  /** The seed file's name, as in shared/seeds/. */
  file: string;
  /** The sentence the case checks, in the seed's own Portuguese. */
  text: string;
}

export interface CaseInfo {
  /** Stable id: `<dialect>.<nn>.<slug>`; numbers are never reused or shifted. */
  id: string;
  title: string;
  seed: SeedQuote;
  level: Level;
  points: number;
  /** Waits on a timer that no server can shorten (p2p's 15 s expiry); `--quick` skips it. */
  slow?: boolean;
  /** Native cases beyond seed 000's new/msg/out; run only with `--extended`. */
  extended?: boolean;
}

export interface TargetOptions {
  host: string;
  port: number;
  /** Per-case budget (ms); every wait in a case draws on it. */
  timeoutMs: number;
  /** mm: usernames that exist on the target. */
  users: string[];
  /** p2p: how long the target keeps a silent client (ms). */
  keepExpiryMs: number;
}

export interface CaseContext {
  readonly options: TargetOptions;
  readonly transcript: Transcript;
  /** A fresh connection to the target, labelled in the transcript (A, B, ...). */
  connect(label?: string): Promise<Conn>;
  /** How long "no reply" must last to count as silence. */
  readonly quietMs: number;
  /** A unique token for names and texts, so cases never see each other's traffic. */
  unique(prefix?: string): string;
  /** Marks the case skipped (a precondition the target cannot meet, e.g. too few `--users`). */
  skip(reason: string): never;
}

export interface Case extends CaseInfo {
  run(ctx: CaseContext): Promise<void>;
}

export type Outcome = 'passed' | 'failed' | 'skipped';

export interface CaseResult {
  id: string;
  title: string;
  level: Level;
  points: number;
  seed: SeedQuote;
  outcome: Outcome;
  durationMs: number;
  /** Why it failed or was skipped, in one line. */
  message?: string;
  expected?: string;
  actual?: string;
  /** The wire log with control characters made visible, for failures. */
  transcript?: string;
}

export interface RunSummary {
  target: string;
  passed: number;
  failed: number;
  skipped: number;
  score: number;
  maxScore: number;
  requiredFailed: number;
  unreachable: boolean;
  durationMs: number;
}

export type ConformEvent =
  | { type: 'plan'; dialect: string; target: string; cases: CaseInfo[] }
  | { type: 'start'; id: string }
  | { type: 'result'; result: CaseResult }
  | { type: 'unreachable'; target: string; error: string }
  | { type: 'end'; summary: RunSummary };

/** A failed expectation: what the case wanted and what the target did. */
export class CaseFailure extends Error {
  constructor(
    message: string,
    readonly expected?: string,
    readonly actual?: string,
  ) {
    super(message);
  }
}

export class CaseSkip extends Error {}

/** Exit status: 0 every required case passed, 1 one failed, 2 the target could not be reached. */
export function exitCodeOf(summary: RunSummary): 0 | 1 | 2 {
  if (summary.unreachable) return 2;
  return summary.requiredFailed > 0 ? 1 : 0;
}
