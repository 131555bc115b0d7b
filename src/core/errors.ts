/**
 * The one error type of the project. Codecs, the core and sessions all throw or report this,
 * so a dialect can turn any failure into its own wire form without guessing.
 */
export type ErrorCode =
  | 'bad_frame'
  | 'too_large'
  | 'bad_json'
  | 'bad_utf8'
  | 'bad_deflate'
  | 'unknown_type'
  | 'bad_request'
  | 'unknown_recipient'
  | 'unknown_account'
  | 'auth_required'
  | 'auth_failed'
  | 'not_signed_in'
  | 'spoofed_sender'
  | 'username_taken'
  | 'group_too_large'
  | 'forbidden'
  | 'conflict'
  | 'name_taken'
  | 'too_many_connections'
  | 'rate_limited'
  | 'timeout'
  /** The store (or another engine the server needs) cannot be reached; nothing was acknowledged. */
  | 'unavailable'
  | 'internal';

export class MensageiroError extends Error {
  override readonly name = 'MensageiroError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** A fatal error leaves the connection in an unknown state: it must be closed. */
    readonly fatal = false,
  ) {
    super(message);
  }
}

export function isMensageiroError(e: unknown): e is MensageiroError {
  return e instanceof MensageiroError;
}
