// psci_errors: what the platform's PSCI firmware (Arm DEN 0022, over SMC from EL2)
// answers, errors included, on four CPUs (smpsim: topologies/psci-errors.toml; QEMU:
// -M virt,virtualization=on,gic-version=3 -smp 4). CPU 0 makes every call and prints
// one line per answer through semihosting: PSCI_VERSION, PSCI_FEATURES, an unknown
// function, MIGRATE_INFO_TYPE, SMCCC_VERSION, CPU_ON of a CPU that does not exist
// (INVALID_PARAMETERS), of itself and of a running CPU (ALREADY_ON), AFFINITY_INFO of
// CPUs on and off, and CPU 1 through CPU_ON, CPU_OFF and CPU_ON again, each time
// reporting the context id it was given. Ends with SYSTEM_OFF (exit status 0).
//
// CPU_ON's ON_PENDING is not checked: a CPU is ON_PENDING only between the call and its
// start, a window whose length neither QEMU (asynchronous work on the target's thread)
// nor smpsim (which marks the CPU on at once) lets a guest hold open.
//
// PSCI return codes are int32 (DEN 0022), in w0: the lines print w0 as a signed number.

    .include "print.inc"

    .equ PSCI_VERSION, 0x84000000
    .equ CPU_OFF, 0x84000002
    .equ CPU_ON, 0xc4000003         // SMC64
    .equ AFFINITY_INFO, 0xc4000004  // SMC64
    .equ MIGRATE_INFO_TYPE, 0x84000006
    .equ SYSTEM_OFF, 0x84000008
    .equ PSCI_FEATURES, 0x8400000a
    .equ SYSTEM_SUSPEND, 0xc400000e // optional; neither platform has it
    .equ UNKNOWN_FUNCTION, 0x8400001f  // in PSCI's range, assigned to nothing
    .equ SMCCC_VERSION, 0x80000000

    .equ CMD_OFF, 1                 // what CPU 0 asks CPU 1 to do
    .equ POLL_LIMIT, 1 << 24

    // x0 = fid, x1..x3 = the arguments; print "\name: <w0 signed>"
    .macro CALL name, fid, a1=0, a2=0, a3=0
    ldr x0, =\fid
    ldr x1, =\a1
    ldr x2, =\a2
    ldr x3, =\a3
    smc #0
    sxtw x0, w0
    SHOW_DEC "\name"
    .endm

    // a function returning a version (major << 16 | minor) or an error: "\name: 0x10001",
    // or "\name: -1"
    .macro CALL_VERSION name, fid
    ldr x0, =\fid
    smc #0
    sxtw x0, w0
    adr x1, 8f
    bl show_version
    b 9f
8:  .asciz "\name"
    .balign 4
9:
    .endm

    .text
    .global main
main:                               // x0 = CPU number, x1 = context id (secondaries)
    cbnz x0, secondary
    adr x0, vectors_el2
    msr vbar_el2, x0
    isb
    mrs x0, currentel
    SHOW "psci_errors: CPU 0, CurrentEL"

    CALL_VERSION "PSCI_VERSION", PSCI_VERSION
    CALL "PSCI_FEATURES(PSCI_VERSION)", PSCI_FEATURES, PSCI_VERSION
    CALL "PSCI_FEATURES(CPU_ON)", PSCI_FEATURES, CPU_ON
    CALL "PSCI_FEATURES(PSCI_FEATURES)", PSCI_FEATURES, PSCI_FEATURES
    CALL "PSCI_FEATURES(SYSTEM_SUSPEND), not supported", PSCI_FEATURES, SYSTEM_SUSPEND
    CALL "PSCI_FEATURES(0x8400001f), no such function", PSCI_FEATURES, UNKNOWN_FUNCTION
    CALL "function 0x8400001f, no such function", UNKNOWN_FUNCTION
    CALL "MIGRATE_INFO_TYPE", MIGRATE_INFO_TYPE
    CALL "PSCI_FEATURES(SMCCC_VERSION)", PSCI_FEATURES, SMCCC_VERSION
    CALL_VERSION "SMCCC_VERSION", SMCCC_VERSION

    CALL "AFFINITY_INFO(1), before its CPU_ON", AFFINITY_INFO, 1
    CALL "AFFINITY_INFO(0x7), no such CPU", AFFINITY_INFO, 7
    CALL "CPU_ON(0x7), no such CPU", CPU_ON, 7, _start
    CALL "CPU_ON(0x100), no such CPU", CPU_ON, 0x100, _start
    CALL "CPU_ON(0), the caller", CPU_ON, 0, _start

    CALL "CPU_ON(1)", CPU_ON, 1, _start, 0x1234
    bl wait_report
    CALL "AFFINITY_INFO(1), running", AFFINITY_INFO, 1
    CALL "CPU_ON(1), running", CPU_ON, 1, _start, 0x9999

    // CPU 1 powers itself off; AFFINITY_INFO says OFF once it has
    adr x0, command
    mov w1, #CMD_OFF
    stlr w1, [x0]
    sev
    ldr x19, =POLL_LIMIT
1:  ldr x0, =AFFINITY_INFO
    mov x1, #1
    mov x2, #0
    smc #0
    cmp w0, #1
    b.eq 2f
    subs x19, x19, #1
    b.ne 1b
2:  sxtw x0, w0
    SHOW_DEC "AFFINITY_INFO(1), after its CPU_OFF"
    CALL "CPU_ON(1), again", CPU_ON, 1, _start, 0x5678
    bl wait_report
    CALL "AFFINITY_INFO(2), never started", AFFINITY_INFO, 2

    SAY "psci_errors: SYSTEM_OFF"
    bl out_nl
    ldr x0, =SYSTEM_OFF
    smc #0
    SAY "SYSTEM_OFF returned"           // it must not
    bl out_nl
    mov x0, #1
    EXIT_WITH_X0

show_version:
    tbnz x0, #63, show_dec
    b show

// wait_report: wait until CPU 1 has said it is up, then print what it saw
wait_report:
    stp x29, x30, [sp, #-16]!
    adr x0, reported
    ldr x1, =POLL_LIMIT
1:  ldar w2, [x0]
    cbnz w2, 2f
    subs x1, x1, #1
    b.ne 1b
    SAY "cpu 1 did not report"
    bl out_nl
    b 3f
2:  str wzr, [x0]
    SAY "cpu "
    adr x0, report
    ldr x0, [x0]
    bl out_dec
    SAY " up, CurrentEL "
    adr x0, report
    ldr x0, [x0, #8]
    bl out_hex
    SAY ", context id "
    adr x0, report
    ldr x0, [x0, #16]
    bl out_hex
    bl out_nl
3:  ldp x29, x30, [sp], #16
    ret

// a CPU started by CPU_ON: report, then wait for CPU_OFF. Only CPU 0 prints.
secondary:
    adr x2, report
    str x0, [x2]
    mrs x3, currentel
    stp x3, x1, [x2, #8]
    adr x2, reported
    mov w3, #1
    stlr w3, [x2]
    adr x2, command
1:  wfe
    ldar w3, [x2]
    cmp w3, #CMD_OFF
    b.ne 1b
    str wzr, [x2]
    ldr x0, =CPU_OFF
    smc #0                          // does not return when it succeeds
2:  wfe
    b 2b

// anything taken to EL2 is a bug here (an SMC that is not a firmware call would be
// UNDEFINED, EC 0): say so and end the run
unexpected:
    SAY "unexpected exception at EL2, ESR "
    mrs x0, esr_el2
    bl out_hex
    bl out_nl
    mov x0, #1
    EXIT_WITH_X0

    .ltorg

    .balign 2048
vectors_el2:
    .rept 16
    b unexpected
    .balign 128
    .endr

    .data
    .balign 8
report:     .quad 0, 0, 0           // CPU number, CurrentEL, context id
reported:   .word 0
command:    .word 0
