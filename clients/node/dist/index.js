"use strict";
/**
 * maekawa-client: named locks, semaphores and leader election served by maekawa daemons
 * (distributed mutual exclusion by Maekawa's quorum voting), for Node.js.
 *
 * ```ts
 * import { lock } from "maekawa-client";
 * await using held = await lock("counter", { addr: "127.0.0.1:50051", timeoutMs: 5000 });
 * console.log(held.token);   // the fencing token: hand it to the resource you protect
 * ```
 *
 * The wire protocol, TLS choice and error texts are those of the Rust client
 * (client/src/client.rs); README.md beside this package shows every use.
 *
 * @packageDocumentation
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.validateName = exports.MAX_NAME_LEN = exports.lock = exports.HeldLock = exports.listLocks = exports.leaders = exports.elect = exports.Unreachable = exports.TlsError = exports.TimedOut = exports.Refused = exports.ProtocolError = exports.MaekawaError = exports.LockLost = exports.InvalidName = exports.ConfigError = void 0;
require("./polyfill");
var errors_1 = require("./errors");
Object.defineProperty(exports, "ConfigError", { enumerable: true, get: function () { return errors_1.ConfigError; } });
Object.defineProperty(exports, "InvalidName", { enumerable: true, get: function () { return errors_1.InvalidName; } });
Object.defineProperty(exports, "LockLost", { enumerable: true, get: function () { return errors_1.LockLost; } });
Object.defineProperty(exports, "MaekawaError", { enumerable: true, get: function () { return errors_1.MaekawaError; } });
Object.defineProperty(exports, "ProtocolError", { enumerable: true, get: function () { return errors_1.ProtocolError; } });
Object.defineProperty(exports, "Refused", { enumerable: true, get: function () { return errors_1.Refused; } });
Object.defineProperty(exports, "TimedOut", { enumerable: true, get: function () { return errors_1.TimedOut; } });
Object.defineProperty(exports, "TlsError", { enumerable: true, get: function () { return errors_1.TlsError; } });
Object.defineProperty(exports, "Unreachable", { enumerable: true, get: function () { return errors_1.Unreachable; } });
var election_1 = require("./election");
Object.defineProperty(exports, "elect", { enumerable: true, get: function () { return election_1.elect; } });
Object.defineProperty(exports, "leaders", { enumerable: true, get: function () { return election_1.leaders; } });
var list_1 = require("./list");
Object.defineProperty(exports, "listLocks", { enumerable: true, get: function () { return list_1.listLocks; } });
var lock_1 = require("./lock");
Object.defineProperty(exports, "HeldLock", { enumerable: true, get: function () { return lock_1.HeldLock; } });
Object.defineProperty(exports, "lock", { enumerable: true, get: function () { return lock_1.lock; } });
var names_1 = require("./names");
Object.defineProperty(exports, "MAX_NAME_LEN", { enumerable: true, get: function () { return names_1.MAX_NAME_LEN; } });
Object.defineProperty(exports, "validateName", { enumerable: true, get: function () { return names_1.validateName; } });
