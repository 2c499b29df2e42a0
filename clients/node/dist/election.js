"use strict";
/**
 * Leader election on top of named locks, with no new protocol: a candidate is a session on
 * lock NAME that waits forever with its VALUE as the session's client label, so the leader is
 * the holder and its fencing token orders leaders in time. Watching reads `Lock.List` of every
 * node, since only the node that serves the leader's session knows its label.
 *
 * @module
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.elect = elect;
exports.leaders = leaders;
const promises_1 = require("node:timers/promises");
const config_1 = require("./config");
const list_1 = require("./list");
const lock_1 = require("./lock");
const names_1 = require("./names");
const security_1 = require("./security");
const wire_1 = require("./wire");
/**
 * Stands as a candidate for leadership of `name` with `value` (what watchers see: an
 * address, a host name), and resolves when this candidate leads. Leadership lasts until the
 * returned lock is released or {@link HeldLock.lost} aborts; its token is the leader's term,
 * larger than every earlier leader's (use it to fence the leader's writes). To stand again
 * after a loss, call `elect` again. Waits forever; `signal` abandons the candidacy.
 */
function elect(name, value, opts = {}) {
    return (0, lock_1.lock)(name, { ...opts, client: value, timeoutMs: undefined, limit: undefined });
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
async function* leaders(name, opts = {}) {
    (0, names_1.validateName)(name);
    const interval = opts.intervalMs ?? 200;
    const config = opts.config ?? "quorums.json";
    const file = (0, config_1.loadClusterFile)(config);
    const security = (0, security_1.chooseSecurity)({ ...opts, config }, file.nodes.map((n) => n.addr));
    const nodes = file.nodes.map((n) => ({
        daemon: `node ${n.id} at ${n.addr}`,
        client: (0, wire_1.openClient)(n.addr, security),
    }));
    const signal = opts.signal;
    let last = 0;
    try {
        while (!signal?.aborted) {
            const replies = await Promise.all(nodes.map((n) => (0, list_1.callList)(n.client, n.daemon, 1000).catch(() => undefined)));
            if (signal?.aborted)
                return;
            let best;
            for (const reply of replies) {
                for (const l of reply?.locks ?? []) {
                    if (l.name !== name || l.holder === undefined || l.token === undefined)
                        continue;
                    if (best === undefined || l.token > best.token) {
                        best = { value: l.holder.client, node: reply.node, token: l.token, session: l.holder.session };
                    }
                }
            }
            if (best !== undefined && best.token > last) {
                last = best.token;
                yield best;
            }
            await (0, promises_1.setTimeout)(interval, undefined, { signal }).catch(() => undefined);
        }
    }
    finally {
        for (const n of nodes)
            n.client.close();
    }
}
