/**
 * The cluster file (`quorums.json`): where each node's daemon listens. The client reads only
 * `nodes` (`[{"id": 0, "addr": "127.0.0.1:50051"}, ...]`) and ignores every other key, which
 * the daemon validates; messages name the file and say how to fix it, as the Rust client's do.
 *
 * @module
 */
/** One node of the cluster file. */
export interface NodeAddr {
    /** The node's id. */
    id: number;
    /** Where its daemon listens (`HOST:PORT`). */
    addr: string;
}
/** The part of a cluster file a client needs. */
export interface ClusterFile {
    /** The file, as given (messages name it so). */
    path: string;
    /** Its nodes, in file order. */
    nodes: NodeAddr[];
}
/** Reads the nodes of the cluster file at `path`; throws {@link ConfigError}. */
export declare function loadClusterFile(path: string): ClusterFile;
/** The address of node `id` in `file`; throws {@link ConfigError} listing the ids it has. */
export declare function nodeAddr(file: ClusterFile, id: number): string;
/**
 * Checks that `addr` is `HOST:PORT` (IPv6 in brackets); throws {@link ConfigError}. gRPC would
 * otherwise take a missing port for 443 and fail later with a less useful message.
 */
export declare function checkAddr(addr: string): void;
/** Whether `addr` (`HOST:PORT`) is a loopback address: 127.0.0.0/8, ::1 or `localhost`. */
export declare function isLoopback(addr: string): boolean;
