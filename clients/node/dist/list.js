"use strict";
/**
 * `Lock.List`: the locks one daemon knows, their holders, tokens and waiters (what `maekawa
 * locks` prints). Leader watching is built on it; tests wait on it for daemons to answer.
 *
 * @module
 */
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __setModuleDefault = (this && this.__setModuleDefault) || (Object.create ? (function(o, v) {
    Object.defineProperty(o, "default", { enumerable: true, value: v });
}) : function(o, v) {
    o["default"] = v;
});
var __importStar = (this && this.__importStar) || (function () {
    var ownKeys = function(o) {
        ownKeys = Object.getOwnPropertyNames || function (o) {
            var ar = [];
            for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) ar[ar.length] = k;
            return ar;
        };
        return ownKeys(o);
    };
    return function (mod) {
        if (mod && mod.__esModule) return mod;
        var result = {};
        if (mod != null) for (var k = ownKeys(mod), i = 0; i < k.length; i++) if (k[i] !== "default") __createBinding(result, mod, k[i]);
        __setModuleDefault(result, mod);
        return result;
    };
})();
Object.defineProperty(exports, "__esModule", { value: true });
exports.listLocks = listLocks;
exports.callList = callList;
const grpc = __importStar(require("@grpc/grpc-js"));
const lock_1 = require("./lock");
const wire_1 = require("./wire");
/**
 * Every lock in use at one daemon (`maekawa locks` for one node). Rejects with
 * {@link Unreachable} when the daemon does not answer within `timeoutMs`, and with the
 * errors of {@link lock} for bad options.
 */
async function listLocks(opts) {
    const target = (0, lock_1.resolveTarget)(opts);
    const client = (0, wire_1.openClient)(target.addr, target.security);
    try {
        return await callList(client, target.daemon, opts.timeoutMs ?? 2000);
    }
    finally {
        client.close();
    }
}
/** One `Lock.List` call on an open channel. */
function callList(client, daemon, timeoutMs) {
    return new Promise((resolve, reject) => {
        client.List({}, { deadline: Date.now() + timeoutMs }, (err, reply) => {
            if (err) {
                const e = err.code === grpc.status.DEADLINE_EXCEEDED
                    ? (0, lock_1.refusal)(daemon, { code: grpc.status.UNAVAILABLE, details: `no answer within ${timeoutMs}ms` })
                    : (0, lock_1.refusal)(daemon, err);
                reject(e);
                return;
            }
            try {
                resolve(fromWire(reply, daemon));
            }
            catch (e) {
                reject(e);
            }
        });
    });
}
function fromWire(reply, daemon) {
    return {
        node: reply.node,
        locks: reply.locks.map((l) => {
            const holder = (0, wire_1.u64)(l.holderSession, "holder_session", daemon);
            const token = (0, wire_1.u64)(l.token, "token", daemon);
            return {
                name: l.name,
                state: l.state,
                holder: holder !== 0 ? { session: holder, client: l.holderClient } : undefined,
                token: token !== 0 ? token : undefined,
                waiting: l.waitingSessions.map((s, i) => ({
                    session: (0, wire_1.u64)(s, "waiting_sessions", daemon),
                    client: l.waitingClients[i] ?? "",
                })),
            };
        }),
    };
}
