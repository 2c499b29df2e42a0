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
import { hostname } from "node:os";
import { checkAddr, loadClusterFile, nodeAddr } from "./config";
import {
  ConfigError,
  LockLost,
  MaekawaError,
  ProtocolError,
  Refused,
  TimedOut,
  Unreachable,
} from "./errors";
import { validateName } from "./names";
import { chooseSecurity, type Security, type SecurityOptions } from "./security";
import {
  CONNECT_TIMEOUT_MS,
  openClient,
  statusText,
  u64,
  type ClientMsg,
  type LockServiceClient,
  type ServerMsg,
} from "./wire";

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
export function resolveTarget(opts: DaemonOptions): Target {
  const config = opts.config ?? "quorums.json";
  if ((opts.addr === undefined) === (opts.node === undefined)) {
    throw new ConfigError(
      "give exactly one of addr (the daemon's HOST:PORT) and node (its id in the cluster file)",
    );
  }
  if (opts.node !== undefined) {
    const file = loadClusterFile(config);
    const addr = nodeAddr(file, opts.node);
    const security = chooseSecurity({ ...opts, config }, file.nodes.map((n) => n.addr));
    return { addr, daemon: `node ${opts.node} at ${addr}`, security };
  }
  const addr = String(opts.addr)
    .replace(/^https?:\/\//, "")
    .replace(/\/+$/, "");
  checkAddr(addr);
  const security = chooseSecurity({ ...opts, config }, [addr]);
  return { addr, daemon: `the daemon at ${addr}`, security };
}

/** The label a session gets when the caller gives none: `node pid 4242 on HOST`. */
export function defaultClientLabel(): string {
  return `node pid ${process.pid} on ${hostname()}`;
}

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
export async function lock(name: string, opts: LockOptions = {}): Promise<HeldLock> {
  validateName(name);
  if (opts.timeoutMs !== undefined && !(Number.isFinite(opts.timeoutMs) && opts.timeoutMs >= 0)) {
    throw new RangeError(`timeoutMs is ${opts.timeoutMs}: give a number of ms >= 0, or leave it out to wait forever`);
  }
  if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit >= 1 && opts.limit < 2 ** 32)) {
    throw new RangeError(`limit is ${opts.limit}: give a whole number of slots (2 to 64), or leave it out for a mutex`);
  }
  opts.signal?.throwIfAborted();
  const target = resolveTarget(opts);
  const client = openClient(target.addr, target.security);
  const acquire: NonNullable<ClientMsg["acquire"]> = {
    name,
    client: opts.client ?? defaultClientLabel(),
  };
  if (opts.timeoutMs !== undefined) acquire.timeoutMs = Math.min(Math.ceil(opts.timeoutMs), Number.MAX_SAFE_INTEGER);
  if (opts.limit !== undefined) acquire.limit = opts.limit;
  return session(client, target.daemon, name, acquire, opts.signal);
}

/** Runs a session up to `Acquired` (or the failure); closes `client` unless it then holds. */
function session(
  client: LockServiceClient,
  daemon: string,
  name: string,
  acquire: NonNullable<ClientMsg["acquire"]>,
  signal: AbortSignal | undefined,
): Promise<HeldLock> {
  return new Promise<HeldLock>((resolve, reject) => {
    const call = client.Session();
    let settled = false;
    const cleanup = () => {
      settled = true;
      clearTimeout(connectTimer);
      signal?.removeEventListener("abort", onAbort);
      call.removeListener("data", onData);
      call.removeListener("status", onStatus);
    };
    const fail = (err: unknown) => {
      if (settled) return;
      cleanup();
      call.cancel();
      client.close();
      reject(err);
    };
    const onAbort = () => fail(signal?.reason);
    // The channel must connect within the timeout; a daemon that then makes us wait for the
    // lock is fine. (A refused connection fails the call at once, without this timer.)
    const connectTimer = setTimeout(() => {
      if (client.getChannel().getConnectivityState(false) !== grpc.connectivityState.READY) {
        fail(new Unreachable(daemon, `no connection within ${CONNECT_TIMEOUT_MS / 1000}s`));
      }
    }, CONNECT_TIMEOUT_MS);
    const onData = (m: ServerMsg) => {
      try {
        if (m.body === "acquired" && m.acquired) {
          const a = m.acquired;
          const held = new HeldLock({
            name: a.name !== "" ? a.name : name,
            token: u64(a.token, "token", daemon),
            node: a.node,
            session: u64(a.session, "session", daemon),
            slot: a.slot ? a.slot : undefined,
            call,
            client,
          });
          cleanup();
          resolve(held);
        } else if (m.body === "timedOut" && m.timedOut) {
          fail(new TimedOut(name, u64(m.timedOut.waitedMs, "waited_ms", daemon), daemon));
        } else if (m.body === "released") {
          fail(new ProtocolError(daemon, "Released before Acquired"));
        } else {
          fail(new ProtocolError(daemon, "a message with no body before Acquired"));
        }
      } catch (e) {
        fail(e);
      }
    };
    // 'status' comes once, at the end of every call; the 'error' before it carries the same.
    const onStatus = (s: grpc.StatusObject) => {
      if (s.code === grpc.status.OK) {
        fail(new Refused(daemon, "it ended the session without an answer"));
      } else {
        fail(refusal(daemon, s));
      }
    };
    call.on("error", () => {}); // reported by 'status'; without a listener it would throw
    call.on("data", onData);
    call.on("status", onStatus);
    if (signal !== undefined) signal.addEventListener("abort", onAbort, { once: true });
    call.write({ acquire });
  });
}

/** The error for a status that ended a call before any answer (as the Rust client maps). */
export function refusal(daemon: string, s: Partial<grpc.StatusObject>): MaekawaError {
  switch (s.code) {
    case grpc.status.UNAVAILABLE:
      return new Unreachable(daemon, connectionWhy(statusText(s)));
    case grpc.status.UNIMPLEMENTED:
      return new Refused(daemon, "it does not serve the Lock service (an older maekawa?)", s.code);
    default:
      return new Refused(daemon, statusText(s), s.code);
  }
}

/**
 * grpc-js says `No connection established. Last error: Error: connect ECONNREFUSED
 * 127.0.0.1:1. Resolution note: ` (some versions add the time in brackets); keep the cause,
 * on one line.
 */
export function connectionWhy(details: string): string {
  // OpenSSL's `809C...:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:...`
  const ssl = /SSL routines:[^:]*:([^:]+):/.exec(details);
  if (ssl !== null) {
    return `the TLS handshake failed (${ssl[1]}): does the daemon run with this cluster's certificates?`;
  }
  let why = details.replace(/^No connection established\. Last error: (?:Error: )?/, "");
  why = why.replace(/\.? Resolution note:.*$/s, "").replace(/ \(\d{4}-\d\d-\d\dT[^)]*\)$/, "");
  return why.replace(/\s+/g, " ").trim() || details;
}

/** @internal What a HeldLock is made of: what Acquired said, and the open stream. */
export interface HeldParts {
  name: string;
  token: number;
  node: number;
  session: number;
  slot: number | undefined;
  call: grpc.ClientDuplexStream<ClientMsg, ServerMsg>;
  client: LockServiceClient;
}

/**
 * A held lock: its fencing token, where it is held, and {@link HeldLock.lost}. Release it
 * with `await held.release()`, `await using`, or in a `finally`: a HeldLock that is only
 * forgotten keeps its stream, hence the lock, until the process exits.
 *
 * Numbers (token, node, session) are JavaScript numbers, not bigints: they are exact up to
 * 2^53 - 1, which a token, grown by about one per acquisition, does not reach; a daemon that
 * sends a larger one gets a {@link ProtocolError} rather than a rounded (unsafe) token.
 */
export class HeldLock implements AsyncDisposable {
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

  #controller = new AbortController();
  #call: grpc.ClientDuplexStream<ClientMsg, ServerMsg>;
  #client: LockServiceClient;
  #state: "held" | "releasing" | "released" | "lost" = "held";
  #lostError: LockLost | undefined;
  #releasing: Promise<void> | undefined;
  #settleRelease: ((err?: LockLost) => void) | undefined;

  /** @internal Made by {@link lock}. */
  constructor(parts: HeldParts) {
    this.name = parts.name;
    this.token = parts.token;
    this.node = parts.node;
    this.session = parts.session;
    this.slot = parts.slot;
    this.lost = this.#controller.signal;
    this.#call = parts.call;
    this.#client = parts.client;
    this.#call.on("data", (m: ServerMsg) => this.#onData(m));
    this.#call.on("status", (s: grpc.StatusObject) => this.#onStatus(s));
  }

  #onData(m: ServerMsg): void {
    if (this.#state === "releasing" && m.body === "released") {
      this.#state = "released";
      this.#finish();
      this.#settleRelease?.();
    } else if (this.#state === "held" || this.#state === "releasing") {
      this.#lose(
        m.body === "released"
          ? "the daemon released it without being asked"
          : "the daemon sent an unexpected message",
      );
    }
  }

  #onStatus(s: grpc.StatusObject): void {
    if (this.#state === "held") {
      this.#lose(
        s.code === grpc.status.OK ? "the daemon ended the session" : `the session broke: ${statusText(s)}`,
      );
    } else if (this.#state === "releasing") {
      this.#lose(
        s.code === grpc.status.OK
          ? "the daemon ended the session before confirming the release"
          : `the session broke: ${statusText(s)}`,
      );
    }
  }

  #lose(why: string): void {
    this.#state = "lost";
    this.#lostError = new LockLost(this.name, this.token, why);
    this.#finish();
    this.#controller.abort(this.#lostError);
    this.#settleRelease?.(this.#lostError);
  }

  /** Closes the stream and the channel (which lets the process exit). */
  #finish(): void {
    this.#call.cancel();
    this.#client.close();
  }

  /**
   * Releases the lock and waits for the daemon to confirm (`Released`). Throws
   * {@link LockLost} when the lock was lost before: then the work under it may have run
   * without it, which the caller should know. Calling it again after a release does nothing.
   */
  release(): Promise<void> {
    switch (this.#state) {
      case "released":
        return Promise.resolve();
      case "lost":
        return Promise.reject(this.#lostError);
      case "releasing":
        return this.#releasing ?? Promise.resolve();
    }
    this.#state = "releasing";
    this.#releasing = new Promise<void>((resolve, reject) => {
      this.#settleRelease = (err) => (err ? reject(err) : resolve());
    });
    this.#call.write({ release: {} });
    return this.#releasing;
  }

  /** `await using held = await lock(...)` releases at the end of the block, as release(). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
