"""The `smpsim` command line."""

import sys


def main(argv=None) -> int:
    print("smpsim: not yet")
    return 2


if __name__ == "__main__":
    sys.exit(main())
