"use strict";
/**
 * The wire: the `maekawa.v1.Lock` service of proto/maekawa.proto (a byte-identical copy of
 * wire/proto/maekawa.proto, checked by test/proto.test.mjs), loaded at run time by
 * `@grpc/proto-loader` so that no protoc step exists, and the channels to one daemon with the
 * keepalive every client of maekawa uses.
 *
 * Only this module sees message shapes as the proto loader gives them (camelCase fields,
 * 64-bit integers as decimal strings); the rest of the package sees numbers.
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
exports.CONNECT_TIMEOUT_MS = exports.KEEPALIVE_OPTIONS = exports.PROTO_PATH = void 0;
exports.openClient = openClient;
exports.u64 = u64;
exports.statusText = statusText;
const grpc = __importStar(require("@grpc/grpc-js"));
const protoLoader = __importStar(require("@grpc/proto-loader"));
const node_path_1 = require("node:path");
const errors_1 = require("./errors");
/** The proto file inside the package (`dist/../proto`). */
exports.PROTO_PATH = (0, node_path_1.join)(__dirname, "..", "proto", "maekawa.proto");
/**
 * How often the channel pings the daemon, idle or not, and how long a ping may go unanswered
 * before the connection is dropped: a daemon whose host vanished is noticed within about 3 s
 * (a killed daemon closes its connections and is noticed at once). The daemon allows pings
 * this often: its own clients send them.
 */
exports.KEEPALIVE_OPTIONS = {
    "grpc.keepalive_time_ms": 1000,
    "grpc.keepalive_timeout_ms": 2000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.max_pings_without_data": 0,
    // A leader watcher keeps its channels across a node's restart: find it again within 1 s,
    // not after grpc's default backoff of up to two minutes.
    "grpc.initial_reconnect_backoff_ms": 200,
    "grpc.max_reconnect_backoff_ms": 1000,
};
/** How long opening the connection may take before the daemon is reported unreachable. */
exports.CONNECT_TIMEOUT_MS = 2000;
let constructor;
/** The Lock service's client class, loading the proto on first use. */
function lockService() {
    if (constructor === undefined) {
        const definition = protoLoader.loadSync(exports.PROTO_PATH, {
            keepCase: false,
            longs: String,
            enums: String,
            defaults: true,
            oneofs: true,
        });
        const pkg = grpc.loadPackageDefinition(definition);
        constructor = pkg.maekawa.v1.Lock;
    }
    return constructor;
}
/** A new channel to the daemon at `addr`; the caller closes it. */
function openClient(addr, security) {
    const Lock = lockService();
    return new Lock(addr, security.credentials, { ...exports.KEEPALIVE_OPTIONS, ...security.options });
}
/**
 * A 64-bit integer from the wire as a number. Tokens, sessions and times stay far below 2^53
 * in practice (a token grows by about one per lock acquisition in the cluster); a larger one
 * is refused rather than rounded, since two tokens rounded to one number would break fencing.
 */
function u64(value, field, daemon) {
    const n = Number(value ?? 0);
    if (!Number.isSafeInteger(n) || n < 0) {
        throw new errors_1.ProtocolError(daemon, `${field} ${value} is beyond 2^53 - 1, the largest integer this client represents exactly`);
    }
    return n;
}
/** A status's text: its details, or its code's name when it has none. */
function statusText(e) {
    const details = (e.details ?? "").trim();
    if (details !== "")
        return details;
    return e.code !== undefined ? (grpc.status[e.code] ?? `status ${e.code}`) : "unknown error";
}
