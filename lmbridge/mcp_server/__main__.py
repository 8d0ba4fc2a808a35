"""``python -m lmbridge.mcp_server``."""

import sys

from lmbridge.mcp_server.entry import main

if __name__ == "__main__":
    sys.exit(main())
