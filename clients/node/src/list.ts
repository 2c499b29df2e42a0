/**
 * `Lock.List`: the locks one daemon knows, their holders, tokens and waiters (what `maekawa
 * locks` prints). Leader watching is built on it; tests wait on it for daemons to answer.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import { resolveTarget, refusal, type DaemonOptions } from "./lock";
import { openClient, u64, type LockServiceClient, type WireListReply } from "./wire";

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
export async function listLocks(opts: ListOptions): Promise<NodeLocks> {
  const target = resolveTarget(opts);
  const client = openClient(target.addr, target.security);
  try {
    return await callList(client, target.daemon, opts.timeoutMs ?? 2000);
  } finally {
    client.close();
  }
}

/** One `Lock.List` call on an open channel. */
export function callList(client: LockServiceClient, daemon: string, timeoutMs: number): Promise<NodeLocks> {
  return new Promise<NodeLocks>((resolve, reject) => {
    client.List({}, { deadline: Date.now() + timeoutMs }, (err, reply) => {
      if (err) {
        const e = err.code === grpc.status.DEADLINE_EXCEEDED
          ? refusal(daemon, { code: grpc.status.UNAVAILABLE, details: `no answer within ${timeoutMs}ms` })
          : refusal(daemon, err);
        reject(e);
        return;
      }
      try {
        resolve(fromWire(reply as WireListReply, daemon));
      } catch (e) {
        reject(e);
      }
    });
  });
}

function fromWire(reply: WireListReply, daemon: string): NodeLocks {
  return {
    node: reply.node,
    locks: reply.locks.map((l) => {
      const holder = u64(l.holderSession, "holder_session", daemon);
      const token = u64(l.token, "token", daemon);
      return {
        name: l.name,
        state: l.state,
        holder: holder !== 0 ? { session: holder, client: l.holderClient } : undefined,
        token: token !== 0 ? token : undefined,
        waiting: l.waitingSessions.map((s, i) => ({
          session: u64(s, "waiting_sessions", daemon),
          client: l.waitingClients[i] ?? "",
        })),
      };
    }),
  };
}
