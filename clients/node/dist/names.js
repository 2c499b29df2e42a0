"use strict";
/**
 * Lock names, checked on this side before any daemon is contacted: the daemon checks the same
 * rules, but only this check can say which character is wrong, as the Rust client does.
 *
 * @module
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.MAX_NAME_LEN = void 0;
exports.validateName = validateName;
const errors_1 = require("./errors");
/** The longest lock name, in bytes (UTF-8), as the daemon allows. */
exports.MAX_NAME_LEN = 128;
/**
 * Checks a lock name: 1 to {@link MAX_NAME_LEN} bytes, each printable ASCII other than space
 * (`!` to `~`). Throws {@link InvalidName} saying what is wrong (`it is empty`,
 * `it is 129 bytes long`, `it contains ' ' at byte 1`).
 */
function validateName(name) {
    if (typeof name !== "string") {
        throw new TypeError(`a lock name is a string, not ${typeof name}`);
    }
    if (name.length === 0) {
        throw new errors_1.InvalidName(name, "it is empty");
    }
    const bytes = Buffer.byteLength(name, "utf8");
    if (bytes > exports.MAX_NAME_LEN) {
        throw new errors_1.InvalidName(name, `it is ${bytes} bytes long`);
    }
    let at = 0;
    for (const c of name) {
        const code = c.codePointAt(0) ?? 0;
        if (code < 0x21 || code > 0x7e) {
            throw new errors_1.InvalidName(name, `it contains ${(0, errors_1.rustDebug)(c, "'")} at byte ${at}`);
        }
        at += Buffer.byteLength(c, "utf8");
    }
}
