/**
 * maekawa-client: named locks, semaphores and leader election served by maekawa daemons
 * (distributed mutual exclusion by Maekawa's quorum voting), for Node.js.
 *
 * ```ts
 * import { lock } from "maekawa-client";
 * await using held = await lock("counter", { addr: "127.0.0.1:50051", timeoutMs: 5000 });
 * console.log(held.token);   // the fencing token: hand it to the resource you protect
 * ```
 *
 * The wire protocol, TLS choice and error texts are those of the Rust client
 * (client/src/client.rs); README.md beside this package shows every use.
 *
 * @packageDocumentation
 */
import "./polyfill";
export { ConfigError, InvalidName, LockLost, MaekawaError, ProtocolError, Refused, TimedOut, TlsError, Unreachable, } from "./errors";
export { elect, leaders, type ElectOptions, type Leader, type LeadersOptions } from "./election";
export { listLocks, type ListOptions, type LockInfo, type NodeLocks, type SessionInfo } from "./list";
export { HeldLock, lock, type DaemonOptions, type LockOptions } from "./lock";
export { MAX_NAME_LEN, validateName } from "./names";
export type { SecurityOptions } from "./security";
