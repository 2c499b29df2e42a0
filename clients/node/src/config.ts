/**
 * The cluster file (`quorums.json`): where each node's daemon listens. The client reads only
 * `nodes` (`[{"id": 0, "addr": "127.0.0.1:50051"}, ...]`) and ignores every other key, which
 * the daemon validates; messages name the file and say how to fix it, as the Rust client's do.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { BlockList, isIP } from "node:net";
import { ConfigError } from "./errors";

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
export function loadClusterFile(path: string): ClusterFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") {
      throw new ConfigError(
        `${path}: file not found; create it (see quorums.json at the top of the repository) or pass config: FILE`,
      );
    }
    throw new ConfigError(
      `${path}: cannot read the file (${err.message}); make it a readable UTF-8 text file, create it or pass config: FILE`,
    );
  }
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: invalid JSON: ${(e as Error).message}; fix the syntax there`);
  }
  const shape = (field: string, problem: string, fix: string) =>
    new ConfigError(`${path}: ${field}: ${problem}; ${fix}`);
  if (typeof root !== "object" || root === null || Array.isArray(root)) {
    throw shape("(top)", "not an object", 'write {"nodes": [{"id": 0, "addr": "HOST:PORT"}, ...]}');
  }
  const nodes = (root as { nodes?: unknown }).nodes;
  if (!Array.isArray(nodes)) {
    throw shape("nodes", "missing or not a list", 'add "nodes": [{"id": 0, "addr": "HOST:PORT"}, ...]');
  }
  const out: NodeAddr[] = nodes.map((n: unknown, i) => {
    const node = n as { id?: unknown; addr?: unknown };
    if (typeof node !== "object" || node === null) {
      throw shape(`nodes[${i}]`, "not an object", 'write {"id": ID, "addr": "HOST:PORT"}');
    }
    if (typeof node.id !== "number" || !Number.isInteger(node.id) || node.id < 0) {
      throw shape(`nodes[${i}].id`, "missing or not a non-negative integer", "give each node a numeric id");
    }
    if (typeof node.addr !== "string") {
      throw shape(`nodes[${i}].addr`, "missing or not a string", 'give each node its "HOST:PORT"');
    }
    return { id: node.id, addr: node.addr };
  });
  return { path, nodes: out };
}

/** The address of node `id` in `file`; throws {@link ConfigError} listing the ids it has. */
export function nodeAddr(file: ClusterFile, id: number): string {
  const node = file.nodes.find((n) => n.id === id);
  if (node === undefined) {
    const known = file.nodes.map((n) => n.id).join(", ");
    throw new ConfigError(`${file.path}: id ${id} is not in the file; use one of ${known} or add it to nodes`);
  }
  return node.addr;
}

/**
 * Checks that `addr` is `HOST:PORT` (IPv6 in brackets); throws {@link ConfigError}. gRPC would
 * otherwise take a missing port for 443 and fail later with a less useful message.
 */
export function checkAddr(addr: string): void {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/.exec(addr);
  if (m === null || Number(m[2]) > 65535) {
    throw new ConfigError(
      `invalid daemon address ${JSON.stringify(addr)}: not HOST:PORT; give it as HOST:PORT (e.g. 127.0.0.1:50051)`,
    );
  }
}

/** Whether `addr` (`HOST:PORT`) is a loopback address: 127.0.0.0/8, ::1 or `localhost`. */
export function isLoopback(addr: string): boolean {
  const colon = addr.lastIndexOf(":");
  let host = colon >= 0 ? addr.slice(0, colon) : addr;
  host = host.replace(/^\[/, "").replace(/\]$/, "");
  if (host.toLowerCase() === "localhost") return true;
  const family = isIP(host);
  return family !== 0 && LOOPBACK.check(host, family === 4 ? "ipv4" : "ipv6");
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");
