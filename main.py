"""Start the LOKI daemon: `python main.py` is `loki run`."""

import sys

from loki.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
