import type { Case, DialectName } from '../types.js';
import { LOBBY_CASES } from './lobby.js';
import { MM_CASES } from './mm.js';
import { NATIVE_CASES } from './native.js';
import { P2P_CASES } from './p2p.js';
import { ZAP_CASES } from './zap.js';

/** Every dialect's case table, in id order. */
export const CASES: Record<DialectName, Case[]> = {
  zap: ZAP_CASES,
  mm: MM_CASES,
  p2p: P2P_CASES,
  lobby: LOBBY_CASES,
  native: NATIVE_CASES,
};
