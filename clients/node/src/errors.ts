/**
 * The errors of the client: one class per way a lock can fail, all extending
 * {@link MaekawaError}, so a caller can `catch (e) { if (e instanceof TimedOut) ... }` without
 * parsing text. Every message is one line, worded as the Rust client's (client/src/client.rs)
 * and naming the daemon (`the daemon at ADDR` or `node N at ADDR`), so the same failure reads
 * the same from `maekawa lock`, a Rust program and a Node program.
 *
 * This module only defines the classes; it decides nothing about when they are raised.
 *
 * @module
 */

/**
 * The base of every error this package throws on purpose, so one `instanceof` tells the
 * client's failures from bugs (a `TypeError`) and from an aborted wait (the signal's reason).
 */
export class MaekawaError extends Error {
  /** @param message one line saying what is wrong and, where there is one, the fix. */
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * The lock name breaks the rules (1 to 128 bytes of printable ASCII without spaces). Raised
 * before any daemon is contacted: the daemon checks the same, but this message says what is
 * wrong with the name.
 */
export class InvalidName extends MaekawaError {
  /** The name as given. */
  readonly lockName: string;
  /** @internal */
  constructor(lockName: string, why: string) {
    super(
      `invalid lock name ${rustDebug(lockName)}: ${why}; a lock name is 1 to 128 bytes of printable ASCII without spaces`,
    );
    this.lockName = lockName;
  }
}

/**
 * Where the daemon is cannot be known: the cluster file is missing or malformed, the node id
 * is not in it, the address does not parse, or the options name no daemon (or two).
 */
export class ConfigError extends MaekawaError {}

/**
 * The certificates cannot be read, or the cluster needs them and there are none: a
 * non-loopback cluster is never spoken to in plaintext unless `insecure` says so.
 */
export class TlsError extends MaekawaError {}

/**
 * Nothing answers at the daemon's address within the connect timeout (2 s), the connection
 * broke before any answer, or the daemon is stopping (gRPC UNAVAILABLE before `Acquired`).
 */
export class Unreachable extends MaekawaError {
  /** `the daemon at ADDR` or `node N at ADDR`. */
  readonly daemon: string;
  /** @internal */
  constructor(daemon: string, why: string) {
    super(`cannot reach ${daemon}: ${why}; is the node running?`);
    this.daemon = daemon;
  }
}

/** The wait for the lock ended (`timeoutMs`) before it was acquired: someone else holds it. */
export class TimedOut extends MaekawaError {
  /** The lock. */
  readonly lockName: string;
  /** How long the daemon waited, in ms. */
  readonly waitedMs: number;
  /** `the daemon at ADDR` or `node N at ADDR`. */
  readonly daemon: string;
  /** @internal */
  constructor(lockName: string, waitedMs: number, daemon: string) {
    super(`timed out after ${humanDuration(waitedMs)} waiting for lock ${lockName} at ${daemon}`);
    this.lockName = lockName;
    this.waitedMs = waitedMs;
    this.daemon = daemon;
  }
}

/**
 * The session broke while the lock was held: the lock may already be someone else's, so the
 * token must not be used any more. It is the reason of {@link HeldLock.lost}, and what
 * `release()` throws when the loss shows only then (the work under the lock may have run
 * without it for a while).
 */
export class LockLost extends MaekawaError {
  /** The lock. */
  readonly lockName: string;
  /** The fencing token it was held with. */
  readonly token: number;
  /** @internal */
  constructor(lockName: string, token: number, why: string) {
    super(`lock ${lockName} (token ${token}) was lost: ${why}`);
    this.lockName = lockName;
    this.token = token;
  }
}

/**
 * The daemon refused the call (a gRPC error status: a bad limit, too many sessions, a
 * certificate whose role may not hold locks, an older daemon without the Lock service), or
 * ended the session without answering.
 */
export class Refused extends MaekawaError {
  /** `the daemon at ADDR` or `node N at ADDR`. */
  readonly daemon: string;
  /** The gRPC status code, when the refusal was one (`grpc.status`). */
  readonly code: number | undefined;
  /** @internal */
  constructor(daemon: string, why: string, code?: number) {
    super(`${daemon} refused: ${why}`);
    this.daemon = daemon;
    this.code = code;
  }
}

/** The daemon answered something the protocol does not allow (say, `Released` first). */
export class ProtocolError extends MaekawaError {
  /** `the daemon at ADDR` or `node N at ADDR`. */
  readonly daemon: string;
  /** @internal */
  constructor(daemon: string, why: string) {
    super(`protocol error from ${daemon}: ${why}`);
    this.daemon = daemon;
  }
}

/**
 * A duration as Rust's `humantime` writes it (`0s`, `500ms`, `1m 5s`), so TimedOut reads as
 * the Rust client's.
 */
export function humanDuration(ms: number): string {
  ms = Math.max(0, Math.round(ms));
  if (ms === 0) return "0s";
  const units: [string, number][] = [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1_000],
    ["ms", 1],
  ];
  const parts: string[] = [];
  for (const [unit, size] of units) {
    const n = Math.floor(ms / size);
    if (n > 0) parts.push(`${n}${unit}`);
    ms -= n * size;
  }
  return parts.join(" ");
}

/** A string as Rust's `{:?}` quotes it (the Rust client's InvalidName does). */
export function rustDebug(s: string, quote: '"' | "'" = '"'): string {
  let out = quote;
  for (const c of s) {
    out += rustEscape(c, quote);
  }
  return out + quote;
}

function rustEscape(c: string, quote: string): string {
  switch (c) {
    case "\t":
      return "\\t";
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\0":
      return "\\0";
    case "\\":
      return "\\\\";
    case quote:
      return "\\" + quote;
  }
  const code = c.codePointAt(0) ?? 0;
  if (code < 0x20 || (code >= 0x7f && code < 0xa0)) {
    return `\\u{${code.toString(16)}}`;
  }
  return c;
}
