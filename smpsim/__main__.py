"""`python -m smpsim` is the `smpsim` command."""

import sys

from smpsim.cli import main

sys.exit(main())
