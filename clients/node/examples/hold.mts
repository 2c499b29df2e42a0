// Hold the lock "counter" of a maekawa daemon, print its fencing token, release it.
// npm run build:examples && node examples/build/hold.mjs 127.0.0.1:50051
import { setTimeout as sleep } from "node:timers/promises";
import { lock } from "maekawa-client";

const addr = process.argv[2] ?? "127.0.0.1:50051";
await using held = await lock("counter", { addr, timeoutMs: 5000 });
console.log(`holding ${held.name} with fencing token ${held.token}`);
await sleep(100, undefined, { signal: held.lost }); // the work; stops with LockLost if lost
// Leaving the scope releases the lock and waits for the daemon to confirm.
