import crypto from 'node:crypto';

/** crypto.scrypt looked up at each call, so a test can count the hashing work a request costs. */
function scrypt(
  password: string,
  salt: Buffer,
  keylen: number,
  options: crypto.ScryptOptions,
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    crypto.scrypt(password, salt, keylen, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

const COST = { N: 16384, r: 8, p: 1 };
const KEY_LENGTH = 32;

/** `scrypt$N$r$p$salt$hash`, so the cost can be raised later without breaking old hashes. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const key = await scrypt(secret, salt, KEY_LENGTH, COST);
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await scrypt(secret, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return crypto.timingSafeEqual(key, expected);
}

const DUMMY_SALT = crypto.randomBytes(16);

/** The hashing a secret check costs, spent for nothing: a sign-in for an unknown name takes as long. */
export async function spendHashingWork(secret: string): Promise<void> {
  await scrypt(secret, DUMMY_SALT, KEY_LENGTH, COST);
}

export function newToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

/** Tokens are stored hashed, so a stolen database does not hand out sessions. */
export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('base64url');
}

/** A random 13-digit id that never starts with 0, so ids cannot be guessed or enumerated. */
export function randomAccountId(): number {
  return crypto.randomInt(1_000_000_000_000, 10_000_000_000_000);
}
