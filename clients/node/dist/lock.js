"use strict";
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
exports.HeldLock = void 0;
exports.resolveTarget = resolveTarget;
exports.defaultClientLabel = defaultClientLabel;
exports.lock = lock;
exports.refusal = refusal;
exports.connectionWhy = connectionWhy;
require("./polyfill");
const grpc = __importStar(require("@grpc/grpc-js"));
const node_os_1 = require("node:os");
const config_1 = require("./config");
const errors_1 = require("./errors");
const names_1 = require("./names");
const security_1 = require("./security");
const wire_1 = require("./wire");
/** Finds the daemon of `opts` and how to talk to it; throws ConfigError or TlsError. */
function resolveTarget(opts) {
    const config = opts.config ?? "quorums.json";
    if ((opts.addr === undefined) === (opts.node === undefined)) {
        throw new errors_1.ConfigError("give exactly one of addr (the daemon's HOST:PORT) and node (its id in the cluster file)");
    }
    if (opts.node !== undefined) {
        const file = (0, config_1.loadClusterFile)(config);
        const addr = (0, config_1.nodeAddr)(file, opts.node);
        const security = (0, security_1.chooseSecurity)({ ...opts, config }, file.nodes.map((n) => n.addr));
        return { addr, daemon: `node ${opts.node} at ${addr}`, security };
    }
    const addr = String(opts.addr)
        .replace(/^https?:\/\//, "")
        .replace(/\/+$/, "");
    (0, config_1.checkAddr)(addr);
    const security = (0, security_1.chooseSecurity)({ ...opts, config }, [addr]);
    return { addr, daemon: `the daemon at ${addr}`, security };
}
/** The label a session gets when the caller gives none: `node pid 4242 on HOST`. */
function defaultClientLabel() {
    return `node pid ${process.pid} on ${(0, node_os_1.hostname)()}`;
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
async function lock(name, opts = {}) {
    (0, names_1.validateName)(name);
    if (opts.timeoutMs !== undefined && !(Number.isFinite(opts.timeoutMs) && opts.timeoutMs >= 0)) {
        throw new RangeError(`timeoutMs is ${opts.timeoutMs}: give a number of ms >= 0, or leave it out to wait forever`);
    }
    if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit >= 1 && opts.limit < 2 ** 32)) {
        throw new RangeError(`limit is ${opts.limit}: give a whole number of slots (2 to 64), or leave it out for a mutex`);
    }
    opts.signal?.throwIfAborted();
    const target = resolveTarget(opts);
    const client = (0, wire_1.openClient)(target.addr, target.security);
    const acquire = {
        name,
        client: opts.client ?? defaultClientLabel(),
    };
    if (opts.timeoutMs !== undefined)
        acquire.timeoutMs = Math.min(Math.ceil(opts.timeoutMs), Number.MAX_SAFE_INTEGER);
    if (opts.limit !== undefined)
        acquire.limit = opts.limit;
    return session(client, target.daemon, name, acquire, opts.signal);
}
/** Runs a session up to `Acquired` (or the failure); closes `client` unless it then holds. */
function session(client, daemon, name, acquire, signal) {
    return new Promise((resolve, reject) => {
        const call = client.Session();
        let settled = false;
        const cleanup = () => {
            settled = true;
            clearTimeout(connectTimer);
            signal?.removeEventListener("abort", onAbort);
            call.removeListener("data", onData);
            call.removeListener("status", onStatus);
        };
        const fail = (err) => {
            if (settled)
                return;
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
                fail(new errors_1.Unreachable(daemon, `no connection within ${wire_1.CONNECT_TIMEOUT_MS / 1000}s`));
            }
        }, wire_1.CONNECT_TIMEOUT_MS);
        const onData = (m) => {
            try {
                if (m.body === "acquired" && m.acquired) {
                    const a = m.acquired;
                    const held = new HeldLock({
                        name: a.name !== "" ? a.name : name,
                        token: (0, wire_1.u64)(a.token, "token", daemon),
                        node: a.node,
                        session: (0, wire_1.u64)(a.session, "session", daemon),
                        slot: a.slot ? a.slot : undefined,
                        call,
                        client,
                    });
                    cleanup();
                    resolve(held);
                }
                else if (m.body === "timedOut" && m.timedOut) {
                    fail(new errors_1.TimedOut(name, (0, wire_1.u64)(m.timedOut.waitedMs, "waited_ms", daemon), daemon));
                }
                else if (m.body === "released") {
                    fail(new errors_1.ProtocolError(daemon, "Released before Acquired"));
                }
                else {
                    fail(new errors_1.ProtocolError(daemon, "a message with no body before Acquired"));
                }
            }
            catch (e) {
                fail(e);
            }
        };
        // 'status' comes once, at the end of every call; the 'error' before it carries the same.
        const onStatus = (s) => {
            if (s.code === grpc.status.OK) {
                fail(new errors_1.Refused(daemon, "it ended the session without an answer"));
            }
            else {
                fail(refusal(daemon, s));
            }
        };
        call.on("error", () => { }); // reported by 'status'; without a listener it would throw
        call.on("data", onData);
        call.on("status", onStatus);
        if (signal !== undefined)
            signal.addEventListener("abort", onAbort, { once: true });
        call.write({ acquire });
    });
}
/** The error for a status that ended a call before any answer (as the Rust client maps). */
function refusal(daemon, s) {
    switch (s.code) {
        case grpc.status.UNAVAILABLE:
            return new errors_1.Unreachable(daemon, connectionWhy((0, wire_1.statusText)(s)));
        case grpc.status.UNIMPLEMENTED:
            return new errors_1.Refused(daemon, "it does not serve the Lock service (an older maekawa?)", s.code);
        default:
            return new errors_1.Refused(daemon, (0, wire_1.statusText)(s), s.code);
    }
}
/**
 * grpc-js says `No connection established. Last error: Error: connect ECONNREFUSED
 * 127.0.0.1:1. Resolution note: ` (some versions add the time in brackets); keep the cause,
 * on one line.
 */
function connectionWhy(details) {
    // OpenSSL's `809C...:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:...`
    const ssl = /SSL routines:[^:]*:([^:]+):/.exec(details);
    if (ssl !== null) {
        return `the TLS handshake failed (${ssl[1]}): does the daemon run with this cluster's certificates?`;
    }
    let why = details.replace(/^No connection established\. Last error: (?:Error: )?/, "");
    why = why.replace(/\.? Resolution note:.*$/s, "").replace(/ \(\d{4}-\d\d-\d\dT[^)]*\)$/, "");
    return why.replace(/\s+/g, " ").trim() || details;
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
class HeldLock {
    /** The lock's name, as the daemon gave it. */
    name;
    /**
     * The fencing token of this acquisition: larger than the token of every earlier holder of
     * this lock (of this slot, for a semaphore), anywhere in the cluster, also across restarts.
     * Hand it to the resource you protect, which refuses a token lower than one it has seen:
     * that keeps a paused or slow former holder from writing.
     */
    token;
    /** The node whose daemon serves the session. */
    node;
    /** The session's id at that daemon (as `maekawa locks` shows it). */
    session;
    /** The semaphore slot held (1 to limit; its lock is `NAME#slot`); `undefined` for a mutex. */
    slot;
    /**
     * Aborts, with a {@link LockLost} as its reason, the moment the lock is lost (the daemon
     * died, the connection broke for longer than the keepalive bound, the lease ran out, or
     * the daemon ended the session). Stop using the token then: someone else may hold the lock.
     * Pass it to anything that takes a signal (`fetch`, `setTimeout` of timers/promises, child
     * processes) so the work under the lock stops with it. It never aborts after a release.
     */
    lost;
    #controller = new AbortController();
    #call;
    #client;
    #state = "held";
    #lostError;
    #releasing;
    #settleRelease;
    /** @internal Made by {@link lock}. */
    constructor(parts) {
        this.name = parts.name;
        this.token = parts.token;
        this.node = parts.node;
        this.session = parts.session;
        this.slot = parts.slot;
        this.lost = this.#controller.signal;
        this.#call = parts.call;
        this.#client = parts.client;
        this.#call.on("data", (m) => this.#onData(m));
        this.#call.on("status", (s) => this.#onStatus(s));
    }
    #onData(m) {
        if (this.#state === "releasing" && m.body === "released") {
            this.#state = "released";
            this.#finish();
            this.#settleRelease?.();
        }
        else if (this.#state === "held" || this.#state === "releasing") {
            this.#lose(m.body === "released"
                ? "the daemon released it without being asked"
                : "the daemon sent an unexpected message");
        }
    }
    #onStatus(s) {
        if (this.#state === "held") {
            this.#lose(s.code === grpc.status.OK ? "the daemon ended the session" : `the session broke: ${(0, wire_1.statusText)(s)}`);
        }
        else if (this.#state === "releasing") {
            this.#lose(s.code === grpc.status.OK
                ? "the daemon ended the session before confirming the release"
                : `the session broke: ${(0, wire_1.statusText)(s)}`);
        }
    }
    #lose(why) {
        this.#state = "lost";
        this.#lostError = new errors_1.LockLost(this.name, this.token, why);
        this.#finish();
        this.#controller.abort(this.#lostError);
        this.#settleRelease?.(this.#lostError);
    }
    /** Closes the stream and the channel (which lets the process exit). */
    #finish() {
        this.#call.cancel();
        this.#client.close();
    }
    /**
     * Releases the lock and waits for the daemon to confirm (`Released`). Throws
     * {@link LockLost} when the lock was lost before: then the work under it may have run
     * without it, which the caller should know. Calling it again after a release does nothing.
     */
    release() {
        switch (this.#state) {
            case "released":
                return Promise.resolve();
            case "lost":
                return Promise.reject(this.#lostError);
            case "releasing":
                return this.#releasing ?? Promise.resolve();
        }
        this.#state = "releasing";
        this.#releasing = new Promise((resolve, reject) => {
            this.#settleRelease = (err) => (err ? reject(err) : resolve());
        });
        this.#call.write({ release: {} });
        return this.#releasing;
    }
    /** `await using held = await lock(...)` releases at the end of the block, as release(). */
    [Symbol.asyncDispose]() {
        return this.release();
    }
}
exports.HeldLock = HeldLock;
