// spin_hello: smp_hello for spin-table boot (topologies/virt-spin-table.toml). The
// secondaries wait in the platform's holding pen until CPU 0 writes the address they
// are to start at into the release address and sends an event (SEV), as a bootloader's
// spin-table does for Linux (`cpu-release-addr`). CPU 0 counts the CPUs from the GIC
// (GICR_TYPER.Last marks the last redistributor), releases them all at once and then
// lets them report one at a time, in order, so the lines are always the same. No PSCI:
// the run ends with main's return (semihosting SYS_EXIT 0).
//
// QEMU's virt machine has no spin-table firmware (its secondaries stay off until PSCI
// CPU_ON), so unlike smp_hello this guest runs on smpsim only.

    .include "common.inc"
    .include "report.inc"

    .equ RELEASE_ADDRESS, 0x400ffff8    // boot.release_address in the topology
    .equ GICR_BASE, 0x080A0000
    .equ GICR_STRIDE, 0x20000
    .equ GICR_TYPER, 0x08
    .equ TYPER_LAST, 1 << 4

    .text
    .global main
main:                                   // x0 = the CPU number (boot.s)
    mov x20, x0
    mrs x19, mpidr_el1
    and x19, x19, #0xffffff
    cbnz x20, secondary
    stp x29, x30, [sp, #-16]!
    bl report

    ldr x1, =GICR_BASE                  // how many CPUs: redistributors up to Last
    mov x21, #1
1:  ldr x2, [x1, #GICR_TYPER]
    tst x2, #TYPER_LAST
    b.ne 2f
    add x21, x21, #1
    add x1, x1, #GICR_STRIDE
    b 1b

2:  ldr x1, =RELEASE_ADDRESS            // release every secondary at _start (boot.s)
    adr x2, _start
    str x2, [x1]
    dsb sy
    sev

    adr x3, turn                        // then one report at a time, in CPU order
    mov x22, #1
3:  cmp x22, x21
    b.eq 5f
    stlr w22, [x3]
    sev
    adr x5, done
4:  ldar w4, [x5]                       // the last CPU that reported
    cmp w4, w22
    b.ne 4b
    add x22, x22, #1
    b 3b
5:  adr x1, msg_done
    SEMIHOSTING SYS_WRITE0
    mov x0, #0
    ldp x29, x30, [sp], #16
    ret

secondary:
    adr x3, turn
    sevl
6:  wfe                                 // until it is this CPU's turn
    ldar w4, [x3]
    cmp w4, w20
    b.ne 6b
    bl report
    adr x3, done
    stlr w20, [x3]
7:  wfe
    b 7b

    .data
    .balign 8
turn: .word 0                           // whose turn it is to report
done: .word 0                           // the last CPU that reported
msg_done: .asciz "all CPUs reported\n"
