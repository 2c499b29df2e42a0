"use strict";
/**
 * `Symbol.asyncDispose`, for Node releases that predate it (before 20.4): the class of a held
 * lock is keyed by it, and TypeScript's downlevelled `await using` looks it up at run time.
 * Node defines it as `Symbol.for("nodejs.asyncDispose")`; so does this, so both agree.
 *
 * @module
 */
Object.defineProperty(exports, "__esModule", { value: true });
const symbols = Symbol;
symbols.asyncDispose ??= Symbol.for("nodejs.asyncDispose");
symbols.dispose ??= Symbol.for("nodejs.dispose");
