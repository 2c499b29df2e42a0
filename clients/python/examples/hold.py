import sys

import maekawa

addr = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
with maekawa.lock("counter", addr=addr, timeout=5) as held:
    # Hand held.token to the resource: it must refuse a token lower than one it has seen.
    print(f"holding {held.name} with fencing token {held.token} from node {held.node}")
    held.check()  # raises maekawa.LockLost if the session broke meanwhile
