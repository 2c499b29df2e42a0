/**
 * How the client talks to the cluster: mutual TLS, or plaintext, chosen as the Rust CLI
 * chooses (client/src/tls.rs, README "Security"), so a program and `maekawa lock` started
 * beside one cluster file agree without configuration.
 *
 * - The certificates directory is `certs` if given, else `certs/` beside the cluster file.
 * - When it holds `ca.pem`: mutual TLS, presenting `<identity>.pem` / `<identity>.key`, and
 *   checking the server as `maekawa` (every node certificate is valid for that name; which
 *   node answers is the protocol's business).
 * - Else plaintext, but only when every address involved is loopback: plaintext lets anyone
 *   who reaches a port take any lock, which on one machine means only its users.
 * - `insecure` forces plaintext.
 *
 * This module reads files and decides; it opens no connection.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
/** The DNS name every node certificate is valid for, and the one a client checks. */
export declare const CLUSTER_NAME = "maekawa";
/** What a client needs to open channels: credentials and the matching channel options. */
export interface Security {
    /** Whether this is mutual TLS. */
    tls: boolean;
    /** The credentials of every channel. */
    credentials: grpc.ChannelCredentials;
    /** Channel options the credentials need (the server name to check, under TLS). */
    options: grpc.ChannelOptions;
}
/** The TLS choices a caller can make (the options of `lock`, `elect` and `leaders`). */
export interface SecurityOptions {
    /** The cluster file; its directory holds `certs/` by default. */
    config?: string;
    /** The certificates directory, instead of `certs/` beside the cluster file. */
    certs?: string;
    /** The certificate to present: `<certs>/<identity>.pem` and `.key`. Default `client`. */
    identity?: string;
    /** Plaintext even off loopback, and even when certificates exist. */
    insecure?: boolean;
}
/** The default certificates directory: `certs` beside the cluster file. */
export declare function defaultCertsDir(config: string): string;
/**
 * Decides how to talk to the daemons at `addrs` (every node of the cluster file, or the one
 * address given); throws {@link TlsError} when the certificates cannot be read, or when the
 * addresses are not all loopback and there is no CA.
 */
export declare function chooseSecurity(opts: SecurityOptions, addrs: string[]): Security;
