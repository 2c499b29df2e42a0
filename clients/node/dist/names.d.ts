/**
 * Lock names, checked on this side before any daemon is contacted: the daemon checks the same
 * rules, but only this check can say which character is wrong, as the Rust client does.
 *
 * @module
 */
/** The longest lock name, in bytes (UTF-8), as the daemon allows. */
export declare const MAX_NAME_LEN = 128;
/**
 * Checks a lock name: 1 to {@link MAX_NAME_LEN} bytes, each printable ASCII other than space
 * (`!` to `~`). Throws {@link InvalidName} saying what is wrong (`it is empty`,
 * `it is 129 bytes long`, `it contains ' ' at byte 1`).
 */
export declare function validateName(name: string): void;
