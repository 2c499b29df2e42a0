"use strict";
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
exports.CLUSTER_NAME = void 0;
exports.defaultCertsDir = defaultCertsDir;
exports.chooseSecurity = chooseSecurity;
const grpc = __importStar(require("@grpc/grpc-js"));
const node_fs_1 = require("node:fs");
const node_path_1 = require("node:path");
const config_1 = require("./config");
const errors_1 = require("./errors");
/** The DNS name every node certificate is valid for, and the one a client checks. */
exports.CLUSTER_NAME = "maekawa";
/** The default certificates directory: `certs` beside the cluster file. */
function defaultCertsDir(config) {
    return (0, node_path_1.join)((0, node_path_1.dirname)(config), "certs");
}
/**
 * Decides how to talk to the daemons at `addrs` (every node of the cluster file, or the one
 * address given); throws {@link TlsError} when the certificates cannot be read, or when the
 * addresses are not all loopback and there is no CA.
 */
function chooseSecurity(opts, addrs) {
    const config = opts.config ?? "quorums.json";
    if (opts.insecure) {
        return { tls: false, credentials: grpc.credentials.createInsecure(), options: {} };
    }
    const dir = opts.certs ?? defaultCertsDir(config);
    const identity = opts.identity ?? "client";
    if ((0, node_fs_1.existsSync)((0, node_path_1.join)(dir, "ca.pem"))) {
        const read = (name) => {
            const path = (0, node_path_1.join)(dir, name);
            try {
                return (0, node_fs_1.readFileSync)(path);
            }
            catch (e) {
                throw new errors_1.TlsError(`${path}: cannot read (${e.message}); make the certificates with \`maekawa certs init --config ${config}\` (or pass certs: DIR)`);
            }
        };
        const ca = read("ca.pem");
        const cert = read(`${identity}.pem`);
        const key = read(`${identity}.key`);
        let credentials;
        try {
            credentials = grpc.credentials.createSsl(ca, key, cert);
        }
        catch (e) {
            throw new errors_1.TlsError(`TLS setup failed: ${e.message}`);
        }
        return {
            tls: true,
            credentials,
            options: {
                "grpc.ssl_target_name_override": exports.CLUSTER_NAME,
                "grpc.default_authority": exports.CLUSTER_NAME,
            },
        };
    }
    const remote = addrs.find((a) => !(0, config_1.isLoopback)(a));
    if (remote !== undefined) {
        throw new errors_1.TlsError(`${config}: node addresses are not all loopback (${remote}) and ${dir} has no ca.pem: make certificates with \`maekawa certs init --config ${config}\`, or pass insecure: true to send everything in plaintext`);
    }
    return { tls: false, credentials: grpc.credentials.createInsecure(), options: {} };
}
