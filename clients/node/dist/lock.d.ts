/**
 * Taking a named lock (or a semaphore slot) from a daemon and holding it: one gRPC stream per
 * lock, `maekawa.v1.Lock/Session` (proto/maekawa.proto). The client sends one `Acquire` and
 * keeps its sending half open; the daemon answers `Acquired` or `TimedOut`; `ReleaseLock` is
 * answered by `Released`. While the lock is held, ANY end of the stream means the lock is
 * lost, and {@link HeldLock.lost} aborts at once: a killed daemon closes the connection, and
 * a vanished host is found by the channel's keepalive within about 3 s.
 *
 * This module knows no cluster file format and no TLS rules: it gets an address and
 * credentials (config.ts, security.ts).
 *
 * @module
 */
import "./polyfill";
import * as grpc from "@grpc/grpc-js";
import { MaekawaError } from "./errors";
import { type Security, type SecurityOptions } from "./security";
/** Where the daemon is: exactly one of `addr` and `node`. */
export interface DaemonOptions extends SecurityOptions {
    /** The daemon's `HOST:PORT` (no cluster file is read, except to find `certs/` beside it). */
    addr?: string;
    /** The daemon of node `node` in the cluster file `config` (default `quorums.json`). */
    node?: number;
}
/** How to take a lock: which daemon, how long to wait, and who is asking. */
export interface LockOptions extends DaemonOptions {
    /**
     * How long the daemon waits for the lock, in ms; then {@link TimedOut}. `0` tries once
     * (gives up at once when the lock is held or wanted elsewhere); `undefined` waits forever.
     */
    timeoutMs?: number;
    /**
     * A semaphore of `limit` slots (2 to 64): hold any one of the locks `NAME#1` ..
     * `NAME#limit`; {@link HeldLock.slot} says which. Every holder of one semaphore must give
     * the same limit. `undefined` or `1`: the mutex NAME.
     */
    limit?: number;
    /**
     * Free text that `maekawa locks` shows for this session (an election's candidate value).
     * Default `node pid PID on HOST`, so an operator can find the holder.
     */
    client?: string;
    /**
     * Abandons the wait: the promise rejects with the signal's reason and the daemon drops the
     * request. It has no effect once the lock is held (release it instead).
     */
    signal?: AbortSignal;
}
/** The daemon a lock call talks to: its address, its name in messages and how to reach it. */
export interface Target {
    /** `HOST:PORT`, without a scheme. */
    addr: string;
    /** `the daemon at ADDR` or `node N at ADDR`: how every message names it. */
    daemon: string;
    /** Plaintext or mutual TLS, as chosen for the addresses involved. */
    security: Security;
}
/** Finds the daemon of `opts` and how to talk to it; throws ConfigError or TlsError. */
export declare function resolveTarget(opts: DaemonOptions): Target;
/** The label a session gets when the caller gives none: `node pid 4242 on HOST`. */
export declare function defaultClientLabel(): string;
/**
 * Waits for the lock `name` and resolves with the {@link HeldLock} that holds it, until
 * `release()`, disposal, or loss. Rejects with {@link InvalidName}, {@link ConfigError},
 * {@link TlsError}, {@link Unreachable}, {@link TimedOut}, {@link Refused},
 * {@link ProtocolError}, or the reason of `signal`.
 *
 * ```ts
 * await using held = await lock("counter", { addr: "127.0.0.1:50051", timeoutMs: 5000 });
 * await writeWithFence(held.token);   // a resource that refuses older tokens
 * ```
 */
export declare function lock(name: string, opts?: LockOptions): Promise<HeldLock>;
/** The error for a status that ended a call before any answer (as the Rust client maps). */
export declare function refusal(daemon: string, s: Partial<grpc.StatusObject>): MaekawaError;
/**
 * grpc-js says `No connection established. Last error: Error: connect ECONNREFUSED
 * 127.0.0.1:1. Resolution note: ` (some versions add the time in brackets); keep the cause,
 * on one line.
 */
export declare function connectionWhy(details: string): string;
/**
 * A held lock: its fencing token, where it is held, and {@link HeldLock.lost}. Release it
 * with `await held.release()`, `await using`, or in a `finally`: a HeldLock that is only
 * forgotten keeps its stream, hence the lock, until the process exits.
 *
 * Numbers (token, node, session) are JavaScript numbers, not bigints: they are exact up to
 * 2^53 - 1, which a token, grown by about one per acquisition, does not reach; a daemon that
 * sends a larger one gets a {@link ProtocolError} rather than a rounded (unsafe) token.
 */
export declare class HeldLock implements AsyncDisposable {
    #private;
    /** The lock's name, as the daemon gave it. */
    readonly name: string;
    /**
     * The fencing token of this acquisition: larger than the token of every earlier holder of
     * this lock (of this slot, for a semaphore), anywhere in the cluster, also across restarts.
     * Hand it to the resource you protect, which refuses a token lower than one it has seen:
     * that keeps a paused or slow former holder from writing.
     */
    readonly token: number;
    /** The node whose daemon serves the session. */
    readonly node: number;
    /** The session's id at that daemon (as `maekawa locks` shows it). */
    readonly session: number;
    /** The semaphore slot held (1 to limit; its lock is `NAME#slot`); `undefined` for a mutex. */
    readonly slot: number | undefined;
    /**
     * Aborts, with a {@link LockLost} as its reason, the moment the lock is lost (the daemon
     * died, the connection broke for longer than the keepalive bound, the lease ran out, or
     * the daemon ended the session). Stop using the token then: someone else may hold the lock.
     * Pass it to anything that takes a signal (`fetch`, `setTimeout` of timers/promises, child
     * processes) so the work under the lock stops with it. It never aborts after a release.
     */
    readonly lost: AbortSignal;
    /**
     * Releases the lock and waits for the daemon to confirm (`Released`). Throws
     * {@link LockLost} when the lock was lost before: then the work under it may have run
     * without it, which the caller should know. Calling it again after a release does nothing.
     */
    release(): Promise<void>;
    /** `await using held = await lock(...)` releases at the end of the block, as release(). */
    [Symbol.asyncDispose](): Promise<void>;
}
