/**
 * Lock names, checked on this side before any daemon is contacted: the daemon checks the same
 * rules, but only this check can say which character is wrong, as the Rust client does.
 *
 * @module
 */

import { InvalidName, rustDebug } from "./errors";

/** The longest lock name, in bytes (UTF-8), as the daemon allows. */
export const MAX_NAME_LEN = 128;

/**
 * Checks a lock name: 1 to {@link MAX_NAME_LEN} bytes, each printable ASCII other than space
 * (`!` to `~`). Throws {@link InvalidName} saying what is wrong (`it is empty`,
 * `it is 129 bytes long`, `it contains ' ' at byte 1`).
 */
export function validateName(name: string): void {
  if (typeof name !== "string") {
    throw new TypeError(`a lock name is a string, not ${typeof name}`);
  }
  if (name.length === 0) {
    throw new InvalidName(name, "it is empty");
  }
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes > MAX_NAME_LEN) {
    throw new InvalidName(name, `it is ${bytes} bytes long`);
  }
  let at = 0;
  for (const c of name) {
    const code = c.codePointAt(0) ?? 0;
    if (code < 0x21 || code > 0x7e) {
      throw new InvalidName(name, `it contains ${rustDebug(c, "'")} at byte ${at}`);
    }
    at += Buffer.byteLength(c, "utf8");
  }
}
