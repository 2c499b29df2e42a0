/**
 * `Lock.List`: the locks one daemon knows, their holders, tokens and waiters (what `maekawa
 * locks` prints). Leader watching is built on it; tests wait on it for daemons to answer.
 *
 * @module
 */
import { type DaemonOptions } from "./lock";
import { type LockServiceClient } from "./wire";
/** One session of a daemon: its id there and its client's label. */
export interface SessionInfo {
    /** The session's id at its daemon. */
    session: number;
    /** The label its client gave (an election's candidate value); may be empty. */
    client: string;
}
/** One lock as one daemon sees it. */
export interface LockInfo {
    /** The lock's name (a semaphore's slots are `NAME#1` .. `NAME#N`). */
    name: string;
    /**
     * `held` (a session of this node holds it), `acquiring` (the node waits for votes),
     * `voting` (only the node's vote or voter queue concerns it), as the daemon says.
     */
    state: string;
    /** The session of this node that holds it, if any. */
    holder: SessionInfo | undefined;
    /** The holder's fencing token, when held here. */
    token: number | undefined;
    /** Sessions of this node waiting for it, first in line first. */
    waiting: SessionInfo[];
}
/** The locks one daemon knows. */
export interface NodeLocks {
    /** The node that answered. */
    node: number;
    /** Its locks in use, in the order it gave them. */
    locks: LockInfo[];
}
/** Options of {@link listLocks}: which daemon, and how long to wait for its answer. */
export interface ListOptions extends DaemonOptions {
    /** The call's deadline in ms (default 2000): a daemon that does not answer is Unreachable. */
    timeoutMs?: number;
}
/**
 * Every lock in use at one daemon (`maekawa locks` for one node). Rejects with
 * {@link Unreachable} when the daemon does not answer within `timeoutMs`, and with the
 * errors of {@link lock} for bad options.
 */
export declare function listLocks(opts: ListOptions): Promise<NodeLocks>;
/** One `Lock.List` call on an open channel. */
export declare function callList(client: LockServiceClient, daemon: string, timeoutMs: number): Promise<NodeLocks>;
