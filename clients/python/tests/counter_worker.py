"""One Python process of the counter test: 10 locked increments of a shared counter file
through node NODE, appending its token to the tokens file under the lock.

Usage: counter_worker.py NODE CONFIG COUNT_FILE TOKENS_FILE (run with the interpreter that has
the package installed; it imports the installed maekawa, not the source tree).
"""

import sys

import maekawa


def main() -> None:
    node, config, count, tokens = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    for _ in range(10):
        with maekawa.lock("counter", node=node, config=config) as held:
            with open(count) as f:
                n = int(f.read().strip())
            held.check()  # never write with a lock that was lost meanwhile
            with open(count, "w") as f:
                f.write(f"{n + 1}\n")
            with open(tokens, "a") as f:
                f.write(f"{held.token} python node {held.node}\n")


if __name__ == "__main__":
    main()
