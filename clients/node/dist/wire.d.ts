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
import * as grpc from "@grpc/grpc-js";
import type { Security } from "./security";
/** The proto file inside the package (`dist/../proto`). */
export declare const PROTO_PATH: string;
/**
 * How often the channel pings the daemon, idle or not, and how long a ping may go unanswered
 * before the connection is dropped: a daemon whose host vanished is noticed within about 3 s
 * (a killed daemon closes its connections and is noticed at once). The daemon allows pings
 * this often: its own clients send them.
 */
export declare const KEEPALIVE_OPTIONS: grpc.ChannelOptions;
/** How long opening the connection may take before the daemon is reported unreachable. */
export declare const CONNECT_TIMEOUT_MS = 2000;
/** A message the client sends on a session (`LockClientMsg`: one of its two bodies). */
export interface ClientMsg {
    /** The first message: which lock, how long to wait (absent: forever), who asks. */
    acquire?: {
        name: string;
        timeoutMs?: number;
        client: string;
        /** A semaphore's slot count; absent for a mutex. */
        limit?: number;
    };
    /** Release the held lock; the daemon answers Released and ends the stream. */
    release?: Record<string, never>;
}
/** A message the daemon sends on a session (`LockServerMsg`), as loaded. */
export interface ServerMsg {
    /** Which of the oneof's fields is set (the loader's `oneofs: true`). */
    body?: "acquired" | "timedOut" | "released";
    acquired?: {
        name: string;
        token: string;
        node: number;
        session: string;
        slot?: number;
    };
    timedOut?: {
        name: string;
        waitedMs: string;
    };
    released?: {
        name: string;
        token: string;
    };
}
/** A `LockInfo` of `Lock.List`, as loaded (64-bit fields as strings; see proto/maekawa.proto). */
export interface WireLockInfo {
    name: string;
    state: string;
    holderSession: string;
    holderClient: string;
    token: string;
    waitingSessions: string[];
    waitingClients: string[];
}
/** `ListLocksReply`, as loaded: the answering node and its locks in use. */
export interface WireListReply {
    node: number;
    locks: WireLockInfo[];
}
/**
 * The generated client of service Lock, typed as this package uses it (the loader's classes
 * are untyped).
 */
export interface LockServiceClient extends grpc.Client {
    /** Opens a session stream (one lock). */
    Session(options?: grpc.CallOptions): grpc.ClientDuplexStream<ClientMsg, ServerMsg>;
    /** Asks for every lock in use at the daemon. */
    List(request: Record<string, never>, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, reply?: WireListReply) => void): grpc.ClientUnaryCall;
}
/** A new channel to the daemon at `addr`; the caller closes it. */
export declare function openClient(addr: string, security: Security): LockServiceClient;
/**
 * A 64-bit integer from the wire as a number. Tokens, sessions and times stay far below 2^53
 * in practice (a token grows by about one per lock acquisition in the cluster); a larger one
 * is refused rather than rounded, since two tokens rounded to one number would break fencing.
 */
export declare function u64(value: string | number | undefined, field: string, daemon: string): number;
/** A status's text: its details, or its code's name when it has none. */
export declare function statusText(e: Partial<grpc.StatusObject>): string;
