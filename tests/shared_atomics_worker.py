"""One CPU of tests/test_shared_atomics.py: a separate OS process running a core over
the shared RAM segment named on the command line, until the guest stops."""

import sys

from smpsim.interconnect.shared_ram import SharedRam
from smpsim.jit import exits
from smpsim.jit.core import Core


def main() -> int:
    name, size, ram_base, entry, iterations, counter, go_flag = sys.argv[1:8]
    ram = SharedRam.attach(name, int(size))
    try:
        core = Core(ram.array, ram_base=int(ram_base, 0))
        core.set_x(0, int(counter, 0))
        core.set_x(1, int(iterations))
        core.set_x(5, int(go_flag, 0))
        core.pc = int(entry, 0)
        core.run(0)  # load the compiled core before saying ready
        print("ready", flush=True)
        ex = core.run(1 << 40)
        print(f"exit {ex.name} pc={ex.pc:#x} stxr_failures={core.x(4)}", flush=True)
        return 0 if ex.kind == exits.HLT else 1
    finally:
        del core
        ram.close()


if __name__ == "__main__":
    sys.exit(main())
