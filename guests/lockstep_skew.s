// lockstep_skew: how far ahead of a CPU's guest time another CPU's can be. In a
// lockstep run (DESIGN.md §5) every CPU runs one quantum, then waits at a barrier, and
// the system counter is virtual: so a count another CPU stored is never a whole quantum
// ahead of the count this CPU reads after loading it. tests/test_lockstep.py checks that bound
// on topologies/lockstep-skew.toml.
//
// Four CPUs at EL2, PSCI over SMC, MMU off. CPU 0 starts CPUs 1-3 with CPU_ON; then
// every CPU, ITERATIONS times, for every other CPU j: load slots[j], then read its own
// count (CNTPCT_EL0) and store it in slots[cpu]; ahead := slots[j] - own (signed),
// keeping the largest ahead seen. The count is read after the load (DSB, ISB), so that
// `own` is never older than the load: read before it, a quantum boundary between the
// two would pair an old own count with a value stored in the next quantum and report
// up to an iteration's worth of ticks too much. The slots another CPU has not written
// yet hold 0 (a very negative ahead), so the largest is what counts. Each CPU then
// stores its largest ahead in results[cpu] and counts itself done; CPU 0 waits for all
// four and prints, in counter ticks, as signed decimals:
//
//   counter frequency <CNTFRQ_EL0 in Hz>
//   cpu0 max ahead <ticks>
//   ...
//   cpu3 max ahead <ticks>
//   skew done
//
// then PSCI SYSTEM_OFF. The guest assumes no frequency: it compares counts only (the
// first line says what CNTFRQ_EL0 is, so the test can relate ticks to instructions).
// CNTPCT_EL0, not CNTVCT_EL0: the virtual count subtracts each CPU's own CNTVOFF_EL2,
// which nothing here sets and which need not be the same on every CPU.

    .include "print.inc"

    .equ CPUS, 4
    .equ ITERATIONS, 200000             // ~43 instructions each: several hundred quanta
    .equ PSCI_CPU_ON, 0xc4000003        // SMC64
    .equ PSCI_SYSTEM_OFF, 0x84000008

    .text
    .global main
main:                                   // every CPU at EL2, from boot.s: x0 = CPU number
    mov x19, x0
    cbnz x19, measure

    // CPU 0: CPU_ON for affinities 1..CPUS-1 (Aff0, cluster 0), start at boot.s
    mov x20, #1
1:  ldr x0, =PSCI_CPU_ON
    mov x1, x20
    adr x2, _start
    mov x3, #0
    smc #0
    cbnz x0, cpu_on_failed
    add x20, x20, #1
    cmp x20, #CPUS
    b.lo 1b

// every CPU: x19 = CPU number, x20 = slots, x21 = the largest ahead, x22 = iterations left
measure:
    adr x20, slots
    mov x21, #1 << 63                   // INT64_MIN: anything seen is larger
    ldr x22, =ITERATIONS
2:  mov x2, #0                          // j
3:  cmp x2, x19
    b.eq 4f
    ldr x3, [x20, x2, lsl #3]           // another CPU's count
    dsb ishld                           // the load is complete ...
    isb                                 // ... before the counter is read
    mrs x1, cntpct_el0                  // own
    str x1, [x20, x19, lsl #3]
    sub x3, x3, x1                      // ahead = slots[j] - own
    cmp x3, x21
    csel x21, x3, x21, gt               // signed
4:  add x2, x2, #1
    cmp x2, #CPUS
    b.lo 3b
    subs x22, x22, #1
    b.ne 2b

    // results[cpu], then done += 1: LDADDAL releases, so CPU 0 sees the result once it
    // sees the count
    adr x0, results
    str x21, [x0, x19, lsl #3]
    adr x0, done
    mov w1, #1
    ldaddal w1, w2, [x0]
    dsb ish                             // the count is visible before the event
    sev
    cbnz x19, park

    // CPU 0: wait for all (LDAR: the results are read after the count), then report
    adr x20, done
    sevl
5:  wfe
    ldar w0, [x20]
    cmp w0, #CPUS
    b.ne 5b
    SAY "counter frequency "
    mrs x0, cntfrq_el0
    bl out_dec
    bl out_nl
    adr x20, results
    mov x19, #0
6:  SAY "cpu"
    mov x0, x19
    bl out_dec
    SAY " max ahead "
    ldr x0, [x20, x19, lsl #3]
    bl out_sdec
    bl out_nl
    add x19, x19, #1
    cmp x19, #CPUS
    b.lo 6b
    SAY "skew done"
    bl out_nl
    ldr x0, =PSCI_SYSTEM_OFF
    smc #0
    b .

park:                                   // CPUs 1-3: until SYSTEM_OFF
    wfe
    b park

cpu_on_failed:
    mov x19, x0
    SAY "skew: CPU_ON failed: "
    mov x0, x19
    bl out_sdec
    bl out_nl
    mov x0, #1
    EXIT_WITH_X0

    .ltorg

    .data
    .balign 8
slots:      .skip 8 * CPUS              // each CPU's last count (one word each is enough)
results:    .skip 8 * CPUS              // each CPU's largest ahead
done:       .word 0                     // CPUs finished
