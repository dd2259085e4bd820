/*
 * minikernel: the hypervisor driver (Linux's Jailhouse driver, the kernel's half) and
 * the scenario the command line asks for. See README.md in this directory.
 *
 *   hv=on            load and enable the minivisor after boot, on every online CPU
 *   hv_offline=<n>   with the hypervisor on: CPU n goes offline (PSCI CPU_OFF: the vCPU is
 *                    removed), then CPU 0 brings it back (CPU_ON: the vCPU is re-added)
 *   hv_readd=0|1     bring the offlined CPU back (default 1); 0: it stays parked in the
 *                    hypervisor until the disable, which sends it off to the firmware
 *   hv_disable=0|1   disable the hypervisor at the end (default 1)
 *   hv_race=cpu_on   the last CPU is not brought up at boot (maxcpus) but CPU_ON'd just
 *                    before enable (race b)
 *   hv_race=cpu_off  CPU 2 goes offline (CPU_OFF) while enable starts (race c)
 *   ticks=<n>        timer ticks per phase and CPU (default 5)
 *
 * Phases: boot (before enable), hv (enabled), readd (after the re-add), off (after
 * disable). Each CPU prints a line when it has ticked `ticks` times in a phase; CPU 0
 * waits for all of them, and its watchdog reports a CPU whose ticks stop (tick_lost).
 */
#include "minivisor.h"

enum { RACE_NONE = 0, RACE_CPU_ON, RACE_CPU_OFF };
enum { REQ_NONE = 0, REQ_ENABLE, REQ_DISABLE };
enum { IPI_HV_ENABLE = 3, IPI_HV_DISABLE = 4 };
enum { PH_BOOT = 0, PH_HV, PH_READD, PH_OFF, PH_END };

static const char *const phase_name[] = { "boot", "hv", "readd", "off", "end" };

struct hv_cpu {
	u32 request;		/* REQ_*: an IPI asked this CPU to enter or leave */
	u32 in_cell;		/* a root-cell vCPU */
	u32 phase_seen, phase_ticks, phase_done;
	u32 offline_req, dying;
	u32 pad;
} __aligned(64);

static struct hv_cpu hv_cpus[NR_CPUS];
static u32 opt_hv, opt_disable = 1, opt_race, opt_readd = 1;
static u32 opt_offline = ~0U;
static u32 hv_phase, ticks_stop, hv_left_count;
u32 hv_root_cell_active __attribute__((section(".data"))) = 0;

#define PSCI_CPU_OFF		0x84000002UL
#define PSCI_AFFINITY_64	0xc4000004UL
#define WATCHDOG_TICKS		100	/* tick periods (1 s) without a tick: lost */

void hv_parse_option(const char *t, size_t len)
{
	u64 v;

	if (len == 5 && !strncmp(t, "hv=on", 5))
		opt_hv = 1;
	else if (len > 11 && !strncmp(t, "hv_offline=", 11) && parse_u64(t + 11, len - 11, &v))
		opt_offline = (u32)v;
	else if (len > 11 && !strncmp(t, "hv_disable=", 11) && parse_u64(t + 11, len - 11, &v))
		opt_disable = (u32)v;
	else if (len > 9 && !strncmp(t, "hv_readd=", 9) && parse_u64(t + 9, len - 9, &v))
		opt_readd = (u32)v;
	else if (len == 14 && !strncmp(t, "hv_race=cpu_on", 14))
		opt_race = RACE_CPU_ON;
	else if (len == 15 && !strncmp(t, "hv_race=cpu_off", 15))
		opt_race = RACE_CPU_OFF;
}

bool hv_mode(void)
{
	return opt_hv;
}

bool hv_race_cpu_on(void)
{
	return opt_hv && opt_race == RACE_CPU_ON;
}

bool hv_ticks_stopped(void)
{
	return load_acquire_u32(&ticks_stop);
}

/* the [[inject]] points: global symbols at their first instruction */
void __attribute__((noinline)) hv_enable_ipis_sent(void)
{
	asm volatile("" : : : "memory");
}

void __attribute__((noinline)) hv_enable_done(void)
{
	asm volatile("" : : : "memory");
}

void __attribute__((noinline)) hv_cpu_off_window(void)
{
	asm volatile("" : : : "memory");
}

static void publish_active(u32 v)
{
	store_release_u32(&hv_root_cell_active, v);
	dcache_clean_poc(&hv_root_cell_active, sizeof(hv_root_cell_active));
	dsb(ish);
}

/* --- the tick, per phase --- */
void hv_tick(struct cpu_data *cd)
{
	u32 cpu = smp_processor_id(), ph = load_acquire_u32(&hv_phase);
	struct hv_cpu *h = &hv_cpus[cpu];

	if (h->phase_seen != ph + 1) {
		h->phase_seen = ph + 1;
		h->phase_ticks = 0;
	}
	if (++h->phase_ticks == tick_target && ph < PH_END) {
		/* CurrentEL only for the report: the kernel's decisions use its cached mode */
		printk("CPU%u: phase %s: %u timer ticks on PPI %u, kernel mode EL%u, CurrentEL %u",
		       cpu, phase_name[ph], tick_target, cd->timer_ppi, cd->kernel_el, current_el());
		event("tick_phase", "phase=%s ticks=%u ppi=%u el=%u mode=%u", phase_name[ph],
		      tick_target, cd->timer_ppi, current_el(), cd->kernel_el);
		store_release_u32(&h->phase_done, ph + 1);
		dsb(ish);
		sev();
	}
}

static bool cpu_counts(u32 i)
{
	return load_acquire_u32(&cpu_data[i].status) == CPU_ONLINE;
}

static void tick_lost_report(u32 cpu)
{
	struct cpu_data *cd = &cpu_data[cpu];

	printk("hv: CPU%u: no timer tick for %u periods (%u ticks so far, PPI %u): tick lost",
	       cpu, WATCHDOG_TICKS, cd->ticks, cd->timer_ppi);
	printk("@event tick_lost cpu=%u ppi=%u ticks=%u mv_dropped=%lu", cpu, cd->timer_ppi,
	       cd->ticks, mv_cpus[cpu].lr_dropped);
}

/* CPU 0: every counted CPU has done its ticks of phase `ph`; the watchdog meanwhile */
static void wait_phase(u32 ph)
{
	u64 period = timer_freq / HZ, since[NR_CPUS];
	u32 last[NR_CPUS], i;

	for (i = 0; i < nr_cpu_ids; i++) {
		last[i] = READ_ONCE(cpu_data[i].ticks);
		since[i] = counter_read();
	}
	for (;;) {
		bool all = true;
		u64 now = counter_read();
		u32 lost = 0;

		for (i = 0; i < nr_cpu_ids; i++) {
			u32 t;

			if (!cpu_counts(i))
				continue;
			if (load_acquire_u32(&hv_cpus[i].phase_done) < ph + 1)
				all = false;
			t = READ_ONCE(cpu_data[i].ticks);
			if (t != last[i]) {
				last[i] = t;
				since[i] = now;
			} else if (now - since[i] > WATCHDOG_TICKS * period &&
				   !READ_ONCE(cpu_data[i].ticks_done)) {
				lost |= 1U << i;
			}
		}
		if (lost) {	/* every CPU whose ticks stopped, then panic */
			for (i = 0; i < nr_cpu_ids; i++)
				if (lost & (1U << i))
					tick_lost_report(i);
			panic("timer tick lost (CPU mask 0x%x)", lost);
		}
		if (all)
			return;
		cpu_relax_wait();
	}
}

static void set_phase(u32 ph)
{
	store_release_u32(&hv_phase, ph);
	dsb(ish);
	sev();
}

/* --- entering and leaving, on each CPU (never inside an exception handler: the
 * kernel's exception frames must not span a change of EL) --- */
static void hv_cpu_enter(u32 cpu)
{
	bool vhe = cpu_data[cpu].kernel_el == 2;
	u64 flags;

	printk("CPU%u: entering the hypervisor%s%s", cpu,
	       load_acquire_u32(&mv.active) ? " (late: it runs already)" : "",
	       vhe ? ": the kernel at EL2 (VHE) hands itself over for demotion" : "");
	event("hv_entered", "vhe=%u late=%u", vhe, load_acquire_u32(&mv.active));
	if (vhe)
		event("demote_start", "el=2");
	flags = local_irq_save();
	if (vhe) {
		mv_enter_vhe(cpu);		/* returns at EL1 */
	} else {
		hyp_stub_call(HVC_SET_VECTORS, (u64)mv_init_vectors, 0, 0, 0);
		mv_hvc(MV_HC_ENTER, cpu);
	}
	store_release_u32(&hv_cpus[cpu].in_cell, 1);
	dsb(ish);
	sev();
	local_irq_restore(flags);
}

static void hv_cpu_leave(u32 cpu)
{
	u64 flags = local_irq_save();

	mv_hvc(MV_HC_DISABLE, 0);		/* VHE: returns at EL2 */
	store_release_u32(&hv_cpus[cpu].in_cell, 0);
	atomic_add_return(&hv_left_count, 1);
	dsb(ish);
	sev();
	local_irq_restore(flags);
}

void hv_handle_ipi(u32 sgi)
{
	struct hv_cpu *h = &hv_cpus[smp_processor_id()];

	store_release_u32(&h->request, sgi == IPI_HV_ENABLE ? REQ_ENABLE : REQ_DISABLE);
	dsb(ish);
	sev();
}

/* a CPU going offline: Linux's cpu_die, then PSCI CPU_OFF */
static void __noreturn cpu_die(u32 cpu)
{
	local_irq_disable();
	store_release_u32(&hv_cpus[cpu].dying, 1);
	dsb(ish);
	sev();
	hv_cpu_off_window();
	timer_stop_this_cpu();
	printk("CPU%u: shutdown", cpu);
	event("cpu_dying", "in_cell=%u", hv_cpus[cpu].in_cell);
	store_release_u32(&cpu_data[cpu].status, CPU_OFF);
	dsb(ish);
	sev();
	psci_call(PSCI_CPU_OFF, 0, 0, 0);
	printk("CPU%u: PSCI CPU_OFF returned: parked", cpu);
	cpu_park();
}

void __noreturn hv_idle_loop(void)
{
	u32 cpu = smp_processor_id();
	struct hv_cpu *h = &hv_cpus[cpu];

	for (;;) {
		u32 req = load_acquire_u32(&h->request);

		if (req != REQ_NONE) {
			store_release_u32(&h->request, REQ_NONE);
			if (req == REQ_ENABLE && !h->in_cell)
				hv_cpu_enter(cpu);
			else if (req == REQ_DISABLE && h->in_cell)
				hv_cpu_leave(cpu);
		}
		if (load_acquire_u32(&h->offline_req))
			cpu_die(cpu);
		wfe();
	}
}

/* --- enable / disable, from CPU 0 --- */
static void hv_enable(void)
{
	u32 i, n = 0;
	u64 mask = 0, deadline;

	for (i = 0; i < nr_cpu_ids; i++)
		if (cpu_counts(i)) {
			n++;
			mask |= 1UL << i;
		}
	printk("jailhouse: Activating hypervisor (minivisor) on %u CPUs", n);
	event("hv_enable_start", "cpus=%u vhe=%u", n, boot_shared.system_vhe);
	mv_prepare_tables();
	mv.target = n;
	mv.target_mask = mask;
	mv.entered = 0;
	mv.disabling = 0;
	mv.vhe = boot_shared.system_vhe;
	dcache_clean_poc(&mv, sizeof(mv));
	dsb(ish);
	for (i = 1; i < nr_cpu_ids; i++)
		if (mask & (1UL << i))
			gic_send_sgi(i, IPI_HV_ENABLE);
	hv_enable_ipis_sent();
	hv_cpu_enter(0);
	/* every CPU that entered is out of the barrier: the hypervisor runs */
	store_release_u32(&mv.active, 1);
	publish_active(1);
	deadline = counter_read() + ns_to_ticks(1000000000UL);
	for (i = 1; i < nr_cpu_ids; i++)
		while ((mv.target_mask & (1UL << i)) && !load_acquire_u32(&hv_cpus[i].in_cell) &&
		       counter_read() < deadline)
			cpu_relax_wait();
	hv_enable_done();
	printk("The Jailhouse is opening.");
	event("hv_enabled", "cpus=%u", READ_ONCE(mv.target));
}

static void hv_disable(void)
{
	u32 i, n = 0;
	u64 deadline;

	for (i = 0; i < nr_cpu_ids; i++)
		n += load_acquire_u32(&hv_cpus[i].in_cell) != 0;
	printk("jailhouse: Shutting down hypervisor on %u CPUs", n);
	event("hv_disable_start", "cpus=%u", n);
	hv_left_count = 0;
	mv.left = 0;
	mv.disable_target = n;
	store_release_u32(&mv.disabling, 1);	/* also for the parked vCPUs */
	dsb(ish);
	sev();
	for (i = 1; i < nr_cpu_ids; i++)
		if (load_acquire_u32(&hv_cpus[i].in_cell))
			gic_send_sgi(i, IPI_HV_DISABLE);
	hv_cpu_leave(0);
	deadline = counter_read() + ns_to_ticks(1000000000UL);
	while (load_acquire_u32(&hv_left_count) < n && counter_read() < deadline)
		cpu_relax_wait();
	store_release_u32(&mv.active, 0);
	publish_active(0);
	printk("The Jailhouse was closed.");
	event("hv_disabled", "cpus=%u", load_acquire_u32(&hv_left_count));
}

/* vCPU removal and re-add, as Linux's CPU hotplug does it */
static void hv_offline_online(u32 t)
{
	struct cpu_data *cd = &cpu_data[t];
	u64 deadline;
	s64 ret;

	printk("hv: CPU%u going offline (PSCI CPU_OFF from the root cell)", t);
	store_release_u32(&hv_cpus[t].offline_req, 1);
	dsb(ish);
	sev();
	deadline = counter_read() + ns_to_ticks(1000000000UL);
	while ((load_acquire_u32(&cd->status) != CPU_OFF ||
		psci_call(PSCI_AFFINITY_64, cd->mpidr, 0, 0) != 1) && counter_read() < deadline)
		cpu_relax_wait();
	printk("psci: CPU%u killed (AFFINITY_INFO: off)", t);
	store_release_u32(&hv_cpus[t].offline_req, 0);
	store_release_u32(&hv_cpus[t].dying, 0);
	store_release_u32(&hv_cpus[t].in_cell, 0);
	if (!opt_readd)
		return;
	hv_cpus[t].phase_done = 0;
	cd->ticks_done = 0;
	store_release_u32(&cd->status, CPU_BOOTING);
	dsb(ish);
	ret = psci_cpu_on(cd->mpidr, (u64)_text, t);
	if (ret)
		panic("CPU%u: CPU_ON for the re-add failed (%ld)", t, ret);
	deadline = counter_read() + ns_to_ticks(CPU_ON_TIMEOUT_MS * 1000000UL);
	while (load_acquire_u32(&cd->status) == CPU_BOOTING && counter_read() < deadline)
		cpu_relax_wait();
	if (load_acquire_u32(&cd->status) != CPU_ONLINE)
		panic("CPU%u: failed to come back online", t);
}

/* A secondary that the kernel brings up while the hypervisor runs:
 *  - started by the hypervisor (CPU_ON of a parked vCPU): it entered at EL1, it is a
 *    root-cell vCPU: the kernel keeps its mode (the VHE illusion), hv_secondary_vcpu
 *  - started by the firmware (a CPU_ON issued before enable): it entered at EL2,
 *    outside the hypervisor: the fixed kernel makes it enter the hypervisor before it
 *    goes online (hv_secondary_join); the naive one does not. */
bool hv_secondary_is_vcpu(u64 boot_el)
{
	return load_acquire_u32(&hv_root_cell_active) && boot_el == 1;
}

void hv_secondary_vcpu_online(u32 cpu)
{
	store_release_u32(&hv_cpus[cpu].in_cell, 1);
	printk("CPU%u: root-cell vCPU (re-added by the hypervisor): kernel mode EL%u kept",
	       cpu, cpu_data[cpu].kernel_el);
}

void hv_secondary_join(u32 cpu)
{
	if (!load_acquire_u32(&hv_root_cell_active) || hv_cpus[cpu].in_cell)
		return;
#ifndef MINIVISOR_NAIVE
	printk("CPU%u: came up while the hypervisor runs: entering it first", cpu);
	hv_cpu_enter(cpu);
#endif
}

void hv_secondary_check(u32 cpu)
{
	if (!load_acquire_u32(&hv_root_cell_active) || load_acquire_u32(&hv_cpus[cpu].in_cell))
		return;
	printk("CPU%u: came up at EL%u outside the hypervisor: the root cell lost control of it",
	       cpu, current_el());
	event("cpu_escaped", "el=%u", current_el());
	panic("CPU%u escaped the hypervisor", cpu);
}

void __noreturn hv_run_scenario(void)
{
	u32 i, late = ~0U;

	set_phase(PH_BOOT);
	wait_phase(PH_BOOT);
	if (opt_race == RACE_CPU_ON) {
		late = smp_boot_deferred_cpu();
		if (late != ~0U)
			printk("hv: CPU%u: CPU_ON issued just before enable", late);
	}
	if (opt_race == RACE_CPU_OFF && nr_cpu_ids > 2) {
		printk("hv: CPU2 going offline while the hypervisor is enabled");
		store_release_u32(&hv_cpus[2].offline_req, 1);
		dsb(ish);
		sev();
		while (!load_acquire_u32(&hv_cpus[2].dying))
			cpu_relax_wait();
	}
	hv_enable();
	if (late != ~0U) {
		u64 deadline = counter_read() + ns_to_ticks(CPU_ON_TIMEOUT_MS * 1000000UL);

		while (load_acquire_u32(&cpu_data[late].status) == CPU_BOOTING &&
		       counter_read() < deadline)
			cpu_relax_wait();
		nr_cpu_ids = late + 1 > nr_cpu_ids ? late + 1 : nr_cpu_ids;
	}
	set_phase(PH_HV);
	wait_phase(PH_HV);
	if (opt_offline < nr_cpu_ids && opt_offline != 0 && cpu_counts(opt_offline)) {
		hv_offline_online(opt_offline);
		set_phase(PH_READD);
		wait_phase(PH_READD);
	}
	if (opt_disable) {
		hv_disable();
		if (opt_offline < nr_cpu_ids && !opt_readd) {
			u64 deadline = counter_read() + ns_to_ticks(1000000000UL);
			s64 aff;

			while ((aff = psci_call(PSCI_AFFINITY_64, cpu_data[opt_offline].mpidr, 0,
						0)) != 1 && counter_read() < deadline)
				cpu_relax_wait();
			printk("psci: CPU%u after the disable: AFFINITY_INFO %ld (%s in the "
			       "firmware)", opt_offline, aff, aff == 1 ? "off" : "not off");
		}
		set_phase(PH_OFF);
		wait_phase(PH_OFF);
	}
	set_phase(PH_END);
	store_release_u32(&ticks_stop, 1);
	dsb(ish);
	sev();
	for (i = 0; i < nr_cpu_ids; i++)
		while (cpu_counts(i) && !load_acquire_u32(&cpu_data[i].ticks_done))
			cpu_relax_wait();
	for (i = 0; i < nr_cpu_ids; i++)
		if (cpu_counts(i))
			printk("CPU%u: %u timer ticks on PPI %u, kernel mode EL%u", i,
			       cpu_data[i].ticks, cpu_data[i].timer_ppi, cpu_data[i].kernel_el);
	printk("reboot: Power down");
	psci_system_off();
}
