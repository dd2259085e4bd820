/*
 * minikernel: the tick, on the timer Linux's arm_arch_timer would choose:
 *   kernel at EL2 with VHE:       CNTP_*_EL0, which E2H redirects to the EL2 physical
 *                                 timer CNTHP_*_EL2          -> PPI 26
 *   kernel at EL1, EL2 present:   the EL1 physical timer CNTP_* -> PPI 30
 *   kernel at EL1, no EL2:        the EL1 virtual timer CNTV_*  -> PPI 27
 * HZ ticks a second, re-armed in the interrupt handler; after `ticks` of them
 * (command line ticks=N, default 5) the timer stops and the CPU says it is done.
 * Also the event stream (an event every 2^(EVNTI+1) counts: about 0.5 ms at 62.5 MHz),
 * so that a WFE wait always ends now and then.
 */
#include "kernel.h"
#include "minivisor/minivisor.h"

#define PPI_HYP_PHYS	26
#define PPI_VIRT	27
#define PPI_PHYS	30
#define CTL_ENABLE	(1UL << 0)
#define CTL_IMASK	(1UL << 1)
#define CTL_ISTATUS	(1UL << 2)
#define EVNTEN		(1UL << 2)
#define EVNTI_SHIFT	4

u32 tick_target = DEFAULT_TICKS;
u64 timer_freq;
static u64 tick_period;

static bool use_virt(struct cpu_data *cd)
{
	return cd->boot_el == 1;
}

static void timer_arm(struct cpu_data *cd, u64 ctl)
{
	if (use_virt(cd)) {
		write_sysreg(tick_period, cntv_tval_el0);
		write_sysreg(ctl, cntv_ctl_el0);
	} else {
		write_sysreg(tick_period, cntp_tval_el0);
		write_sysreg(ctl, cntp_ctl_el0);
	}
	isb();
}

static void timer_stop(struct cpu_data *cd)
{
	if (use_virt(cd))
		write_sysreg(0, cntv_ctl_el0);
	else
		write_sysreg(0, cntp_ctl_el0);
	isb();
}

static u64 timer_ctl(struct cpu_data *cd)
{
	return use_virt(cd) ? read_sysreg(cntv_ctl_el0) : read_sysreg(cntp_ctl_el0);
}

static void evtstrm_enable(void)
{
	u64 div = timer_freq / 1000;	/* the period 2^(bit+1) just below this */
	u64 bit = 0, v;

	while (bit < 15 && (2UL << (bit + 1)) <= div)
		bit++;
	/* CNTKCTL_EL1; with E2H at EL2 this name reaches CNTHCTL_EL2 (same fields) */
	v = read_sysreg(cntkctl_el1);
	v &= ~(0xfUL << EVNTI_SHIFT);
	v |= EVNTEN | bit << EVNTI_SHIFT;
	write_sysreg(v, cntkctl_el1);
	isb();
}

void timer_init(u32 cpu)
{
	struct cpu_data *cd = &cpu_data[cpu];
	const char *what;

	if (!timer_freq)
		timer_freq = read_sysreg(cntfrq_el0);
	tick_period = timer_freq / HZ;
	if (cd->kernel_el == 2) {
		cd->timer_ppi = PPI_HYP_PHYS;
		what = "EL2 physical timer (CNTHP_*_EL2 through CNTP_*_EL0, E2H)";
	} else if (!use_virt(cd)) {
		cd->timer_ppi = PPI_PHYS;
		what = "EL1 physical timer (CNTP_*_EL0)";
	} else {
		cd->timer_ppi = PPI_VIRT;
		what = "EL1 virtual timer (CNTV_*_EL0)";
	}
	evtstrm_enable();
	timer_stop(cd);
	gic_enable_ppi(cd->timer_ppi);
	timer_arm(cd, CTL_ENABLE);
	printk("CPU%u: arch_timer: %s, PPI %u, %lu Hz, tick %u Hz", cpu, what, cd->timer_ppi,
	       timer_freq, HZ);
	event("timer_started", "ppi=%u el=%u", cd->timer_ppi, cd->kernel_el);
}

void timer_handle_irq(void)
{
	struct cpu_data *cd = this_cpu();

	if (!(timer_ctl(cd) & CTL_ISTATUS))
		return;
	cd->ticks++;
	if (hv_mode()) {	/* ticks per phase until the scenario ends (minivisor/hv.c) */
		hv_tick(cd);
		if (hv_ticks_stopped()) {
			timer_stop(cd);
			store_release_u32(&cd->ticks_done, 1);
			dsb(ish);
			sev();
		} else {
			timer_arm(cd, CTL_ENABLE);
		}
		return;
	}
	if (cd->ticks >= tick_target) {
		timer_stop(cd);
		store_release_u32(&cd->ticks_done, 1);
		dsb(ish);
		sev();
	} else {
		timer_arm(cd, CTL_ENABLE);
	}
}

void timer_stop_this_cpu(void)
{
	timer_stop(this_cpu());
}
