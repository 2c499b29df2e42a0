/**
 * Leader election on top of named locks, with no new protocol: a candidate is a session on
 * lock NAME that waits forever with its VALUE as the session's client label, so the leader is
 * the holder and its fencing token orders leaders in time. Watching reads `Lock.List` of every
 * node, since only the node that serves the leader's session knows its label.
 *
 * @module
 */

import { setTimeout as sleep } from "node:timers/promises";
import { loadClusterFile } from "./config";
import { callList } from "./list";
import { lock, type HeldLock, type LockOptions } from "./lock";
import { validateName } from "./names";
import { chooseSecurity, type SecurityOptions } from "./security";
import { openClient } from "./wire";

/** The options of {@link elect}: a lock's, without those an election fixes. */
export type ElectOptions = Omit<LockOptions, "timeoutMs" | "limit" | "client">;

/**
 * Stands as a candidate for leadership of `name` with `value` (what watchers see: an
 * address, a host name), and resolves when this candidate leads. Leadership lasts until the
 * returned lock is released or {@link HeldLock.lost} aborts; its token is the leader's term,
 * larger than every earlier leader's (use it to fence the leader's writes). To stand again
 * after a loss, call `elect` again. Waits forever; `signal` abandons the candidacy.
 */
export function elect(name: string, value: string, opts: ElectOptions = {}): Promise<HeldLock> {
  return lock(name, { ...opts, client: value, timeoutMs: undefined, limit: undefined });
}

/** A leader as watchers see it. */
export interface Leader {
  /** The value its candidate stood with. */
  value: string;
  /** The node whose daemon serves the leader's session. */
  node: number;
  /** Its token: a leader with a larger token is a later one. */
  token: number;
  /** Its session's id at that node. */
  session: number;
}

/** The options of {@link leaders}. */
export interface LeadersOptions extends SecurityOptions {
  /** How often every node is asked, in ms (default 200). */
  intervalMs?: number;
  /** Stops the watch: the iteration ends (without an error). */
  signal?: AbortSignal;
}

/**
 * Watches who leads `name`: yields the current leader when the watch starts (if there is
 * one), then every new leader, in term order. Every `intervalMs` it asks `Lock.List` of every
 * node of the cluster file at once (1 s deadline each; nodes that do not answer are skipped
 * that round), takes the holder of `name` with the largest token, and yields it when that
 * token is larger than the last yielded one: a leader seen late, after its successor, is
 * never yielded. Ends when `signal` aborts or the loop is left (`break`).
 *
 * ```ts
 * for await (const leader of leaders("scheduler", { signal })) console.log(leader.value);
 * ```
 */
export async function* leaders(name: string, opts: LeadersOptions = {}): AsyncGenerator<Leader, void, undefined> {
  validateName(name);
  const interval = opts.intervalMs ?? 200;
  const config = opts.config ?? "quorums.json";
  const file = loadClusterFile(config);
  const security = chooseSecurity({ ...opts, config }, file.nodes.map((n) => n.addr));
  const nodes = file.nodes.map((n) => ({
    daemon: `node ${n.id} at ${n.addr}`,
    client: openClient(n.addr, security),
  }));
  const signal = opts.signal;
  let last = 0;
  try {
    while (!signal?.aborted) {
      const replies = await Promise.all(
        nodes.map((n) => callList(n.client, n.daemon, 1000).catch(() => undefined)),
      );
      if (signal?.aborted) return;
      let best: Leader | undefined;
      for (const reply of replies) {
        for (const l of reply?.locks ?? []) {
          if (l.name !== name || l.holder === undefined || l.token === undefined) continue;
          if (best === undefined || l.token > best.token) {
            best = { value: l.holder.client, node: reply!.node, token: l.token, session: l.holder.session };
          }
        }
      }
      if (best !== undefined && best.token > last) {
        last = best.token;
        yield best;
      }
      await sleep(interval, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    for (const n of nodes) n.client.close();
  }
}
