"""The CPU process's logic (smpsim/cpu_worker/worker.py) with fake ports: every exit is
served the way the machine must serve it."""

import numpy as np
import pytest
from gnu_as import assemble

from smpsim.bootctl import psci
from smpsim.cpu_worker import worker as w
from smpsim.jit.core import Core

BASE = 0x4000_0000


class FakePorts:
    def __init__(self):
        self.calls = []
        self.irq = self.fiq = False
        self.events = 0
        self.device = {0x0900_0018: 0x90}  # a UART flag register, say
        self.ich_hcr_el2 = 0

    def mmio_read(self, addr, size):
        self.calls.append(("read", addr, size))
        return self.device.get(addr)

    def mmio_write(self, addr, size, value):
        self.calls.append(("write", addr, size, value))
        return addr in self.device

    def icc_read(self, reg, el):
        self.calls.append(("icc_read", reg, el))
        return 27 if reg == "ICC_IAR1_EL1" else 0

    def icc_write(self, reg, el, value):
        self.calls.append(("icc_write", reg, el, value))

    def ppi(self, intid, level):
        self.calls.append(("ppi", intid, level))

    def firmware(self, x0, x1, x2, x3):
        self.calls.append(("psci", x0))
        return psci.serve(x0, x1, x2, x3, {0: "on", 1: "off"})

    def console(self, data):
        self.calls.append(("console", data))

    def sev(self):
        self.calls.append(("sev",))

    def changed(self):
        return True  # (a fake has no sequence number: always look)

    def lines(self):
        return self.irq, self.fiq

    def virtual_lines(self):
        return False, False

    def ich_hcr(self):
        return self.ich_hcr_el2

    def broadcast(self, bits):
        self.calls.append(("broadcast", bits))
        return {}

    def broadcast_done(self, asked):
        return True

    def pause(self):
        pass

    def take_maintenance(self):
        return 0, 0

    def maintenance_done(self, gen):
        self.calls.append(("maintenance_done", gen))

    def take_event(self):
        had, self.events = self.events > 0, 0
        return had


def make(text, quantum=10_000):
    core = Core(np.zeros(1 << 20, dtype=np.uint8), ram_base=BASE)
    core.load(BASE, assemble(text))
    core.pc = BASE
    ports = FakePorts()
    return w.CpuWorker(0, core, ports, quantum, host_time=False, frequency=62_500_000), ports


def run_until_not_running(worker, limit=100):
    for _ in range(limit):
        out = worker.step()
        if out.state != w.RUNNING:
            return out
    raise AssertionError("still running")


def test_device_reads_and_writes_go_to_the_ports_and_nothing_there_aborts():
    worker, ports = make("""
        ldr x1, =0x09000018
        ldr w2, [x1]          // served: 0x90
        str w2, [x1]          // served
        ldr x3, =0x0a000000
        ldr w4, [x3]          // nothing there: an external abort at EL2
        b .
    """)
    worker.core.set_sysreg("VBAR_EL2", BASE + 0x800)
    worker.core.load(BASE + 0xA00, assemble("hlt #0xf000"))  # the sync vector: stop there
    worker.core.set_x(0, 0x99)  # an unknown semihosting op: returns -1, goes on
    worker.step(), worker.step(), worker.step(), worker.step()
    assert ("read", 0x0900_0018, 4) in ports.calls and ("write", 0x0900_0018, 4, 0x90) in ports.calls
    assert worker.core.x(2) == 0x90
    assert worker.core.sysreg("ESR_EL2") >> 26 == 0x25 and worker.core.sysreg("FAR_EL2") == 0x0A00_0000


def test_gic_registers_are_served_by_name():
    worker, ports = make("mrs x5, icc_iar1_el1\n msr icc_eoir1_el1, x5\n b .")
    worker.step(), worker.step(), worker.step()
    assert ("icc_read", "ICC_IAR1_EL1", 2) in ports.calls
    assert ("icc_write", "ICC_EOIR1_EL1", 2, 27) in ports.calls


def test_psci_calls_go_to_the_firmware_and_system_off_ends_the_run():
    worker, ports = make("""
        ldr x0, =0x84000000   // PSCI_VERSION
        smc #0
        mov x5, x0
        ldr x0, =0x84000008   // SYSTEM_OFF
        smc #0
    """)
    out = run_until_not_running(worker)
    assert worker.core.x(5) == 0x10001
    assert (out.state, out.exit_code) == (w.EXITED, 0)


def test_semihosting_console_and_exit():
    worker, ports = make("""
        mov x0, #3            // SYS_WRITEC
        adr x1, letter
        hlt #0xf000
        mov x0, #0x18         // SYS_EXIT
        adr x1, block
        hlt #0xf000
    letter: .byte 'A', 0, 0, 0
        .balign 8
    block: .quad 0x20026, 5
    """)
    out = run_until_not_running(worker)
    assert ("console", b"A") in ports.calls
    assert (out.state, out.exit_code) == (w.EXITED, 5)


def test_timer_outputs_reach_the_gic_as_ppis():
    worker, ports = make("""
        mov x0, #50
        msr cnthp_tval_el2, x0
        mov x0, #1
        msr cnthp_ctl_el2, x0
        b .
    """)
    for _ in range(5):
        worker.step()
    assert ("ppi", 26, True) in ports.calls


def test_wfi_waits_until_an_interrupt_line_rises():
    worker, ports = make("wfi\n mov x1, #7\n b .")
    out = worker.step()
    assert out.state == w.WAITING and out.wait_until is None  # no timer: wait for the GIC
    assert not worker.wake_condition()
    ports.irq = True
    assert worker.wake_condition()
    worker.resume()
    worker.step()
    assert worker.core.x(1) == 7


def test_wfe_waits_for_an_event_from_elsewhere_and_sev_goes_out():
    worker, ports = make("sev\n wfe\n wfe\n mov x1, #9\n b .")
    assert worker.step().state == w.RUNNING and ("sev",) in ports.calls
    out = worker.step()  # the first WFE consumed our own SEV's event; the second waits
    assert out.state == w.WAITING
    ports.events = 1
    assert worker.wake_condition()
    worker.resume()
    worker.step()
    assert worker.core.x(1) == 9


def test_a_wfe_with_the_monitor_armed_ends_when_its_physical_location_is_written():
    """With the MMU on, the monitor's address is virtual; the waiting process looks at the
    physical location the LDAXR read (a store by another CPU there is the event)."""
    import struct

    from test_mmu import NORMAL, Tables, el1_mmu, identity

    worker, _ = make("ldaxr x1, [x0]\n wfe\n b .")
    core = worker.core
    core.set_el(1)
    t = Tables(core, start=BASE + 0x9_0000)  # (this core has 1 MiB of RAM)
    identity(t, size=0x10_0000)
    t.map(0x9000_0000, BASE + 0x8_0000, NORMAL)
    el1_mmu(core, t)
    core.set_x(0, 0x9000_0000)
    assert worker.step().state == w.WAITING and worker.watching_monitor()
    assert not worker.wake_condition()
    core.load(BASE + 0x8_0000, struct.pack("<Q", 1))  # another CPU's store, say
    assert worker.wake_condition()


def test_hlt_that_is_not_semihosting_is_undefined():
    worker, ports = make("hlt #1\n b .")
    worker.core.set_sysreg("VBAR_EL2", BASE + 0x800)
    worker.core.load(BASE + 0xA00, assemble("b ."))
    worker.step()
    assert worker.core.sysreg("ESR_EL2") >> 26 == 0 and worker.core.sysreg("ELR_EL2") == BASE


def test_a_lost_vector_ends_the_run_with_a_report():
    worker, _ = make(".inst 0")
    out = worker.step()
    assert out.state == w.EXITED and out.exit_code == 70
    assert "EC 0x00" in out.reason and "not in RAM" in out.reason


def test_cpu_suspend_is_a_standby_wait():
    worker, ports = make("ldr x0, =0xc4000001\n smc #0\n mov x1, #3\n b .")
    out = run_until_not_running(worker)
    assert out.state == w.WAITING and worker.core.x(0) == 0
    ports.irq = True
    assert worker.wake_condition()
    worker.resume()
    worker.step()
    assert worker.core.x(1) == 3


TC, TALL0, TALL1, TDIR = 1 << 10, 1 << 11, 1 << 12, 1 << 14


@pytest.mark.parametrize("insn, key, rt, read, ich_hcr", [
    # ISS of EC 0x18: Op0 [21:20], Op2 [19:17], Op1 [16:14], CRn [13:10], Rt [9:5],
    # CRm [4:1], Direction [0] (1 = MRS); key = op0, op1, CRn, CRm, op2
    ("mrs x3, icc_iar1_el1", (3, 0, 12, 12, 0), 3, 1, TALL1),
    ("msr icc_eoir0_el1, x4", (3, 0, 12, 8, 1), 4, 0, TALL0),
    ("msr icc_pmr_el1, x5", (3, 0, 4, 6, 0), 5, 0, TC),
    ("msr icc_sgi1r_el1, x6", (3, 0, 12, 11, 5), 6, 0, TC),
    ("msr icc_dir_el1, x7", (3, 0, 12, 11, 1), 7, 0, TDIR),
])
def test_ich_hcr_el2_traps_el1_accesses_to_the_cpu_interface_to_el2(insn, key, rt, read,
                                                                     ich_hcr):
    worker, ports = make(insn + "\n b .")
    core = worker.core
    core.set_sysreg("VBAR_EL2", BASE + 0x800)
    core.set_sysreg("HCR_EL2", 1 << 31)
    core.set_el(1)
    ports.ich_hcr_el2 = ich_hcr
    assert worker.step().state == w.RUNNING
    op0, op1, crn, crm, op2 = key
    iss = op0 << 20 | op2 << 17 | op1 << 14 | crn << 10 | rt << 5 | crm << 1 | read
    assert core.el == 2 and core.pc == BASE + 0x800 + 0x400  # lower EL, AArch64, sync
    assert core.sysreg("ESR_EL2") == 0x18 << 26 | 1 << 25 | iss
    assert core.sysreg("ELR_EL2") == BASE
    assert not any(c[0].startswith("icc") for c in ports.calls)  # nothing reached the GIC


@pytest.mark.parametrize("insn, key, routing", [
    ("msr icc_sgi1r_el1, x6", (3, 0, 12, 11, 5), 1 << 4),   # IMO
    ("msr icc_sgi0r_el1, x6", (3, 0, 12, 11, 7), 1 << 3),   # FMO
    ("msr icc_asgi1r_el1, x6", (3, 0, 12, 11, 6), 1 << 4),
])
def test_hcr_el2_imo_or_fmo_traps_el1_s_sgi_generation_to_el2(insn, key, routing):
    """GIC spec (ICC_SGI1R_EL1): with IRQs or FIQs routed to EL2, EL1 cannot send SGIs
    itself; the hypervisor sees the write (EC 0x18) and sends them, as QEMU does."""
    worker, ports = make(insn + "\n b .")
    core = worker.core
    core.set_sysreg("VBAR_EL2", BASE + 0x800)
    core.set_sysreg("HCR_EL2", 1 << 31 | routing)
    core.set_el(1)
    assert worker.step().state == w.RUNNING
    op0, op1, crn, crm, op2 = key
    iss = op0 << 20 | op2 << 17 | op1 << 14 | crn << 10 | 6 << 5 | crm << 1
    assert core.el == 2 and core.sysreg("ESR_EL2") == 0x18 << 26 | 1 << 25 | iss
    assert not any(c[0].startswith("icc") for c in ports.calls)


def test_without_its_trap_bit_the_access_reaches_the_gic():
    worker, ports = make("mrs x3, icc_iar1_el1\n b .")
    worker.core.set_sysreg("HCR_EL2", 1 << 31)
    worker.core.set_el(1)
    ports.ich_hcr_el2 = TALL0 | TC  # (Group 0 and common registers only)
    worker.step()
    assert ("icc_read", "ICC_IAR1_EL1", 1) in ports.calls and worker.core.el == 1
