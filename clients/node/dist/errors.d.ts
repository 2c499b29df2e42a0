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
export declare class MaekawaError extends Error {
    /** @param message one line saying what is wrong and, where there is one, the fix. */
    constructor(message: string);
}
/**
 * The lock name breaks the rules (1 to 128 bytes of printable ASCII without spaces). Raised
 * before any daemon is contacted: the daemon checks the same, but this message says what is
 * wrong with the name.
 */
export declare class InvalidName extends MaekawaError {
    /** The name as given. */
    readonly lockName: string;
}
/**
 * Where the daemon is cannot be known: the cluster file is missing or malformed, the node id
 * is not in it, the address does not parse, or the options name no daemon (or two).
 */
export declare class ConfigError extends MaekawaError {
}
/**
 * The certificates cannot be read, or the cluster needs them and there are none: a
 * non-loopback cluster is never spoken to in plaintext unless `insecure` says so.
 */
export declare class TlsError extends MaekawaError {
}
/**
 * Nothing answers at the daemon's address within the connect timeout (2 s), the connection
 * broke before any answer, or the daemon is stopping (gRPC UNAVAILABLE before `Acquired`).
 */
export declare class Unreachable extends MaekawaError {
    /** `the daemon at ADDR` or `node N at ADDR`. */
    readonly daemon: string;
}
/** The wait for the lock ended (`timeoutMs`) before it was acquired: someone else holds it. */
export declare class TimedOut extends MaekawaError {
    /** The lock. */
    readonly lockName: string;
    /** How long the daemon waited, in ms. */
    readonly waitedMs: number;
    /** `the daemon at ADDR` or `node N at ADDR`. */
    readonly daemon: string;
}
/**
 * The session broke while the lock was held: the lock may already be someone else's, so the
 * token must not be used any more. It is the reason of {@link HeldLock.lost}, and what
 * `release()` throws when the loss shows only then (the work under the lock may have run
 * without it for a while).
 */
export declare class LockLost extends MaekawaError {
    /** The lock. */
    readonly lockName: string;
    /** The fencing token it was held with. */
    readonly token: number;
}
/**
 * The daemon refused the call (a gRPC error status: a bad limit, too many sessions, a
 * certificate whose role may not hold locks, an older daemon without the Lock service), or
 * ended the session without answering.
 */
export declare class Refused extends MaekawaError {
    /** `the daemon at ADDR` or `node N at ADDR`. */
    readonly daemon: string;
    /** The gRPC status code, when the refusal was one (`grpc.status`). */
    readonly code: number | undefined;
}
/** The daemon answered something the protocol does not allow (say, `Released` first). */
export declare class ProtocolError extends MaekawaError {
    /** `the daemon at ADDR` or `node N at ADDR`. */
    readonly daemon: string;
}
/**
 * A duration as Rust's `humantime` writes it (`0s`, `500ms`, `1m 5s`), so TimedOut reads as
 * the Rust client's.
 */
export declare function humanDuration(ms: number): string;
/** A string as Rust's `{:?}` quotes it (the Rust client's InvalidName does). */
export declare function rustDebug(s: string, quote?: '"' | "'"): string;
