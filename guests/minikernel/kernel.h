/* minikernel: what every C file shares. See README.md in this directory. */
#ifndef MINIKERNEL_KERNEL_H
#define MINIKERNEL_KERNEL_H

#include "asm.h"

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long u64;
typedef signed int s32;
typedef signed long s64;
typedef unsigned long size_t;
typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define __aligned(n) __attribute__((aligned(n)))
#define __noreturn __attribute__((noreturn))
#define __printf(a, b) __attribute__((format(printf, a, b)))
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

/* --- system registers and barriers --- */
#define read_sysreg(r) ({ u64 __v; asm volatile("mrs %0, " #r : "=r"(__v)); __v; })
#define write_sysreg(v, r) asm volatile("msr " #r ", %x0" : : "rZ"((u64)(v)) : "memory")
#define isb() asm volatile("isb" : : : "memory")
#define dsb(opt) asm volatile("dsb " #opt : : : "memory")
#define sev() asm volatile("sev" : : : "memory")
#define wfe() asm volatile("wfe" : : : "memory")
#define wfi() asm volatile("wfi" : : : "memory")
#define barrier() asm volatile("" : : : "memory")
#define local_irq_disable() asm volatile("msr daifset, #2" : : : "memory")
#define local_irq_enable() asm volatile("msr daifclr, #2" : : : "memory")

static inline u64 local_irq_save(void)
{
	u64 flags = read_sysreg(daif);
	local_irq_disable();
	return flags;
}

static inline void local_irq_restore(u64 flags)
{
	write_sysreg(flags, daif);
}

static inline u32 current_el(void)
{
	return (read_sysreg(CurrentEL) >> 2) & 3;
}

static inline u64 counter_read(void)
{
	isb();
	return read_sysreg(cntpct_el0);
}

static inline void store_release_u32(u32 *p, u32 v)
{
	asm volatile("stlr %w1, %0" : "=Q"(*p) : "r"(v) : "memory");
}

static inline u32 load_acquire_u32(const u32 *p)
{
	u32 v;
	asm volatile("ldar %w0, %1" : "=r"(v) : "Q"(*p) : "memory");
	return v;
}

/* atomic add with LDAXR/STLXR (no LSE: some CPUs lack it); returns the new value */
static inline u32 atomic_add_return(u32 *p, u32 inc)
{
	u32 v, fail;
	asm volatile("1: ldaxr %w0, %2\n"
		     "   add %w0, %w0, %w3\n"
		     "   stlxr %w1, %w0, %2\n"
		     "   cbnz %w1, 1b"
		     : "=&r"(v), "=&r"(fail), "+Q"(*p)
		     : "r"(inc)
		     : "memory");
	return v;
}

/* --- configuration --- */
#define NR_CPUS 16
#define INVALID_HWID (~0UL)
#define MPIDR_HWID_MASK 0xff00ffffffUL
#define HZ 100
#define DEFAULT_TICKS 5
#define MAX_TICKS 100000
#define CPU_ON_TIMEOUT_MS 5000
#define IPI_TIMEOUT_MS 1000
#define DEFAULT_RAM_BASE 0x40000000UL
#define DEFAULT_RAM_SIZE (128UL << 20)

/* --- per-CPU state, indexed by logical CPU number (0 = the boot CPU) --- */
enum cpu_status {
	CPU_OFF = 0,		/* not started (or CPU_ON refused) */
	CPU_BOOTING,		/* CPU_ON / spin-table release done, not yet online */
	CPU_ONLINE,
	CPU_PANIC_KERNEL,	/* found a conflict with a strict boot-CPU capability: parked */
	CPU_FAILED,		/* did not come online in time */
};

enum nvhe_reason { NVHE_NONE = 0, NVHE_OVERRIDE, NVHE_NO_VHE, NVHE_EL1 };

enum enable_method { EM_PSCI = 0, EM_SPIN_TABLE, EM_UNKNOWN };

struct cpu_data {
	u64 mpidr;		/* MPIDR_EL1 & MPIDR_HWID_MASK */
	u32 midr;
	u32 boot_el;		/* the EL it entered the kernel at */
	u32 kernel_el;		/* the EL the kernel runs at on it (2 = VHE) */
	u32 nvhe_reason;
	u32 status;		/* enum cpu_status, written with store-release */
	u32 ticks;		/* timer interrupts taken */
	u32 timer_ppi;
	u32 ticks_done;		/* ticks reached the target and the timer stopped */
	u32 ipi_pings;		/* IPI_PING taken */
	u32 pad;
	u64 rdist;		/* its redistributor's RD_base */
	u64 pong_count;		/* (boot CPU) counter at the last IPI_PONG */
	u32 pong_seen;		/* (boot CPU) IPI_PONG taken */
} __aligned(64);

extern struct cpu_data cpu_data[NR_CPUS];

/* What a secondary CPU reads with its MMU off: written by the boot CPU before it
 * starts any secondary, then cleaned to the point of coherency. */
struct boot_shared {
	u64 ttbr0, tcr, mair, sctlr_mmu_on;	/* the kernel's identity map */
	u32 vh_override;			/* id_aa64mmfr1.vh=0 on the command line */
	u32 system_vhe;				/* the boot CPU runs the kernel with VHE */
	u32 boot_el;				/* the boot CPU's entry EL */
};
extern struct boot_shared boot_shared;
extern u64 cpu_logical_map[NR_CPUS];	/* head.S looks its MPIDR up here */
extern u32 secondary_go;		/* non-zero: who enters at _text is a secondary */

/* the platform, as the FDT (or the defaults) describe it */
struct cpu_desc {
	u64 mpidr;
	u32 method;		/* enum enable_method */
	u64 release_addr;
};

struct platform {
	bool have_fdt;
	u64 fdt;
	u32 fdt_size;
	char cmdline[256];
	bool psci_hvc;		/* PSCI conduit */
	bool psci_in_fdt;
	u32 nr_desc;		/* /cpus/cpu@* nodes found */
	struct cpu_desc desc[NR_CPUS];
	u64 ram_base, ram_size;
	bool ram_in_fdt;
	u64 gicd, gicr;		/* GICv3 distributor, first redistributor */
};
extern struct platform plat;

static inline u32 smp_processor_id(void)
{
	return (u32)read_sysreg(tpidr_el1);
}

static inline struct cpu_data *this_cpu(void)
{
	return &cpu_data[smp_processor_id()];
}

/* lib.c */
void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strncpy_z(char *d, const char *s, size_t n);	/* always NUL-terminates */
bool parse_u64(const char *s, size_t len, u64 *out);
void dcache_clean_poc(const void *start, size_t size);
void cpu_relax_wait(void);	/* WFE: until an event, an interrupt, or the event stream */
u64 ns_to_ticks(u64 ns);
u64 ticks_to_ns(u64 ticks);

/* console.c */
void console_putc_raw(char c);
int vsnprintf(char *buf, size_t size, const char *fmt, __builtin_va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);
void printk(const char *fmt, ...) __printf(1, 2);		/* one whole line, locked */
void event(const char *name, const char *fmt, ...) __printf(2, 3);	/* @event <name> cpu=<n> ... */
void __noreturn panic(const char *fmt, ...) __printf(1, 2);

/* fdt.c */
bool fdt_parse(u64 addr);

/* mmu.c */
void mmu_build_idmap(void);
void mmu_enable(void);		/* this CPU, in the regime it runs in */

/* gic.c */
void gic_dist_init(void);
void gic_cpu_init(u32 cpu);
void gic_enable_ppi(u32 intid);
void gic_send_sgi(u32 cpu, u32 sgi);
u32 gic_ack(void);
void gic_eoi(u32 intid);
extern u32 gic_nr_irqs;

/* timer.c */
void timer_init(u32 cpu);
void timer_handle_irq(void);
void timer_stop_this_cpu(void);
extern u32 tick_target;
extern u64 timer_freq;

/* psci.c */
s64 psci_call(u64 fn, u64 a1, u64 a2, u64 a3);
s64 psci_cpu_on(u64 mpidr, u64 entry, u64 context);
void __noreturn psci_system_off(void);
void __noreturn psci_system_reset(void);
u32 psci_version(void);

/* smp.c */
void smp_bring_up_secondaries(void);
void smp_ipi_round_trips(void);
void smp_send_stop(void);
void smp_handle_ipi(u32 sgi);
u32 num_online_cpus(void);
u32 smp_boot_deferred_cpu(void);
extern u32 nr_cpu_ids;

/* main.c / head.S / hyp-stub.S / entry.S */
extern char _text[], _end[], __hyp_stub_vectors[], vectors[], hyp_stub_restart_probe[];
void cpu_enable_mmu(u64 ttbr0, u64 tcr, u64 mair, u64 sctlr);
u64 hyp_stub_call(u64 fn, u64 a1, u64 a2, u64 a3, u64 a4);
void __noreturn cpu_park(void);
void __noreturn start_kernel(u64 fdt, u64 boot_el);
void __noreturn secondary_start_kernel(u64 cpu, u64 boot_el);
void idle_loop(void) __noreturn;

struct pt_regs {
	u64 regs[31];
	u64 sp, elr, spsr, esr, far;
};
void do_irq(struct pt_regs *regs);
void do_sync(struct pt_regs *regs);
void do_bad(struct pt_regs *regs, u64 vector);

#endif
