/*
 * minikernel: start_kernel for the boot CPU, secondary_start_kernel for the others,
 * the VHE decision (Linux's finalise_el2), the checks Linux makes on the CPUs it
 * brings up, the interrupt entry points, and the end of the run.
 */
#include "kernel.h"
#include "minivisor/minivisor.h"

struct cpu_data cpu_data[NR_CPUS];
struct boot_shared boot_shared __aligned(64);

static u32 cpus_ticked;		/* online CPUs whose ticks are done */
static u32 finish_armed;	/* the boot CPU is done with bring-up and IPIs */
static u32 nr_online_final;
static u32 print_turn;		/* the logical CPU that prints its tick line next */

static const char *const nvhe_reason_name[] = { "", "override", "no_vhe", "el1" };

/* --- the command line --- */
static void parse_cmdline(const char *s)
{
	while (*s) {
		const char *t;
		size_t len;
		u64 v;

		while (*s == ' ')
			s++;
		t = s;
		while (*s && *s != ' ')
			s++;
		len = (size_t)(s - t);
		if ((len == 17 && !strncmp(t, "id_aa64mmfr1.vh=0", 17)) ||
		    (len == 17 && !strncmp(t, "kvm-arm.mode=nvhe", 17)))
			boot_shared.vh_override = 1;
		else if (len > 6 && !strncmp(t, "ticks=", 6) && parse_u64(t + 6, len - 6, &v) &&
			 v >= 1 && v <= MAX_TICKS)
			tick_target = (u32)v;
		else if (len > 3 && !strncmp(t, "hv", 2))
			hv_parse_option(t, len);
	}
}

/* --- the VHE decision: Linux's finalise_el2 ---
 * Called at EL1 (the boot CPU with its MMU on, a secondary with its MMU off). Returns
 * the EL the kernel runs at on this CPU from now on. */
static u32 vhe_decide(u32 boot_el, u32 *reason, u64 *stub_ret)
{
	*stub_ret = 0;
	if (boot_el != 2) {
		*reason = NVHE_EL1;
		return 1;
	}
	if (!((read_sysreg(id_aa64mmfr1_el1) >> ID_AA64MMFR1_VH_SHIFT) & 0xf)) {
		*reason = NVHE_NO_VHE;
		return 1;
	}
	if (boot_shared.vh_override) {
		*reason = NVHE_OVERRIDE;
		return 1;
	}
	*stub_ret = hyp_stub_call(HVC_FINALISE_EL2, 0, 0, 0, 0);
	if (current_el() == 2) {
		*reason = NVHE_NONE;
		return 2;
	}
	*reason = NVHE_NO_VHE;	/* the stub refused (it says why in stub_ret) */
	return 1;
}

static void report_vhe(u32 cpu, u32 kernel_el, u32 reason, u64 stub_ret)
{
	switch (reason) {
	case NVHE_NONE:
		printk("CPU%u: VHE: HVC_FINALISE_EL2 done, the kernel runs at EL2 "
		       "(HCR_EL2.E2H=1, TGE=1)", cpu);
		event("vhe_enabled", "el=%u", kernel_el);
		return;
	case NVHE_OVERRIDE:
		printk("CPU%u: VHE disabled by the command line (id_aa64mmfr1.vh=0): "
		       "the kernel stays at EL1, hyp stub at EL2", cpu);
		break;
	case NVHE_NO_VHE:
		if (stub_ret)
			printk("CPU%u: the hyp stub refused HVC_FINALISE_EL2 (0x%lx): "
			       "the kernel stays at EL1", cpu, stub_ret);
		else
			printk("CPU%u: no VHE (ID_AA64MMFR1_EL1.VH=0): the kernel stays at EL1, "
			       "hyp stub at EL2", cpu);
		break;
	case NVHE_EL1:
		printk("CPU%u: entered at EL1 (no EL2 for the kernel): the kernel runs at EL1",
		       cpu);
		break;
	}
	event("nvhe", "reason=%s el=%u", nvhe_reason_name[reason], kernel_el);
}

static void report_entry(u32 cpu, struct cpu_data *cd)
{
	event("boot_entry", "el=%u mpidr=0x%lx", cd->boot_el, cd->mpidr);
	if (cd->boot_el == 2) {
		printk("CPU%u: entered at EL2: EL2 initialised, hyp stub at VBAR_EL2=0x%lx, "
		       "dropped to EL1", cpu, (u64)__hyp_stub_vectors);
		event("hyp_stub_installed", "vbar_el2=0x%lx", (u64)__hyp_stub_vectors);
	}
}

static void report_mmu(u32 cpu)
{
	/* the kernel's cached mode, not CurrentEL (a hypervisor may have demoted it) */
	const char *regime = cpu_data[cpu].kernel_el == 2 ? "EL2&0" : "EL1&0";

	printk("CPU%u: MMU on: %s regime, identity map, 4 KiB granule, 2 MiB blocks, "
	       "TTBR0=0x%lx", cpu, regime, boot_shared.ttbr0);
	event("mmu_on", "regime=%s", regime);
}

/* The boot CPU, at EL1 over the stub: the rest of the stub's ABI, as a hypervisor
 * loader (HVC_SET_VECTORS / HVC_RESET_VECTORS) and kexec (HVC_SOFT_RESTART) use it */
static void hyp_stub_check(void)
{
	static u64 probe[8] __aligned(64);
	u64 set, reset, restart, unknown;

	unknown = hyp_stub_call(0x42, 0, 0, 0, 0);
	set = hyp_stub_call(HVC_SET_VECTORS, (u64)__hyp_stub_vectors, 0, 0, 0);
	reset = hyp_stub_call(HVC_RESET_VECTORS, 0, 0, 0, 0);
	dcache_clean_poc(probe, sizeof(probe));
	restart = hyp_stub_call(HVC_SOFT_RESTART, (u64)hyp_stub_restart_probe, (u64)probe,
				0x5157, 0);
	asm volatile("dc civac, %0" : : "r"(probe) : "memory");	/* written MMU off */
	dsb(sy);
	printk("hyp-stub: HVC_SET_VECTORS -> %lu, HVC_RESET_VECTORS -> %lu, HVC_SOFT_RESTART "
	       "-> %lu (ran at EL%lu, x1=0x%lx), function 0x42 -> 0x%lx", set, reset, restart,
	       (READ_ONCE(probe[0]) >> 2) & 3, READ_ONCE(probe[1]), unknown);
}

static void hyp_mode_check(void)
{
	u32 i, els = 0;

	for (i = 0; i < nr_cpu_ids; i++)
		if (cpu_data[i].status == CPU_ONLINE || cpu_data[i].status == CPU_PANIC_KERNEL)
			els |= 1U << cpu_data[i].boot_el;
	if (els == 1U << 2) {
		printk("CPU: All CPU(s) started at EL2");
	} else if (els == 1U << 1) {
		printk("CPU: All CPU(s) started at EL1");
	} else {
		printk("CPU: CPUs started in inconsistent modes");
		event("inconsistent_modes", "els=0x%x", els);
	}
}

void __noreturn start_kernel(u64 fdt, u64 boot_el)
{
	struct cpu_data *cd = &cpu_data[0];
	u32 reason, version;
	u64 stub_ret, vh;

	cd->mpidr = read_sysreg(mpidr_el1) & MPIDR_HWID_MASK;
	cd->midr = (u32)read_sysreg(midr_el1);
	cd->boot_el = (u32)boot_el;
	cd->kernel_el = 1;
	cpu_logical_map[0] = cd->mpidr;
	boot_shared.boot_el = (u32)boot_el;
	timer_freq = read_sysreg(cntfrq_el0);

	/* the platform: QEMU virt's, or what the FDT says */
	plat.gicd = 0x08000000;
	plat.gicr = 0x080a0000;
	plat.ram_base = DEFAULT_RAM_BASE;
	plat.ram_size = DEFAULT_RAM_SIZE;
	fdt_parse(fdt);
	if (!plat.psci_in_fdt)
		plat.psci_hvc = boot_el != 2;	/* SMC from EL2, else HVC */
	parse_cmdline(plat.cmdline);

	/* the MMU on first, then (as Linux's __primary_switched) the VHE decision */
	mmu_build_idmap();
	mmu_enable();

	printk("Booting minikernel on physical CPU 0x%010lx [0x%08x]", cd->mpidr, cd->midr);
	report_entry(0, cd);
	if (plat.have_fdt)
		printk("FDT: at 0x%lx, %u bytes", plat.fdt, plat.fdt_size);
	else
		printk("FDT: none (x0=0x%lx): using defaults", fdt);
	printk("Kernel command line: %s", plat.cmdline);
	printk("Memory: %lu MiB at 0x%lx%s", plat.ram_size >> 20, plat.ram_base,
	       plat.ram_in_fdt ? "" : " (default)");
	report_mmu(0);

	vh = (read_sysreg(id_aa64mmfr1_el1) >> ID_AA64MMFR1_VH_SHIFT) & 0xf;
	if (boot_shared.vh_override)
		printk("CPU features: SYS_ID_AA64MMFR1_EL1[11:8]: %s to 0",
		       vh ? "forced" : "already set");
	cd->kernel_el = vhe_decide(cd->boot_el, &reason, &stub_ret);
	cd->nvhe_reason = reason;
	report_vhe(0, cd->kernel_el, reason, stub_ret);
	boot_shared.system_vhe = cd->kernel_el == 2;
	if (cd->boot_el == 2 && cd->kernel_el == 1)
		hyp_stub_check();

	version = psci_version();
	printk("psci: PSCIv%u.%u detected in firmware, conduit %s%s", version >> 16,
	       version & 0xffff, plat.psci_hvc ? "hvc" : "smc",
	       plat.psci_in_fdt ? "" : " (default)");
	printk("CPU features: detected: Virtualization Host Extensions: %s",
	       boot_shared.system_vhe ? "yes (kernel at EL2)" : "no");
	if (tick_target != DEFAULT_TICKS)
		printk("ticks: %u per CPU (command line)", tick_target);

	gic_dist_init();
	gic_cpu_init(0);
	timer_init(0);
	store_release_u32(&cd->status, CPU_ONLINE);
	local_irq_enable();

	smp_bring_up_secondaries();
	nr_online_final = num_online_cpus();
	printk("SMP: Total of %u processors activated.", nr_online_final);
	event("smp_done", "cpus=%u", nr_online_final);
	hyp_mode_check();

	smp_ipi_round_trips();
	if (hv_mode())
		hv_run_scenario();
	store_release_u32(&finish_armed, 1);
	dsb(ish);
	sev();
	idle_loop();
}

void __noreturn secondary_start_kernel(u64 cpu_arg, u64 boot_el)
{
	u32 cpu = (u32)cpu_arg, reason, kernel_el;
	struct cpu_data *cd = &cpu_data[cpu];
	u64 stub_ret;
	bool has, sys;

	/* a root-cell vCPU that the hypervisor re-added: it entered at EL1, but the kernel
	 * keeps the mode it had on this CPU (the VHE illusion) and its entry EL */
	if (hv_secondary_is_vcpu(boot_el)) {
		mmu_enable();
		kernel_el = cd->kernel_el;
		event("boot_entry", "el=%lu mpidr=0x%lx vcpu=1", boot_el, cd->mpidr);
		report_mmu(cpu);
		hv_secondary_vcpu_online(cpu);
		goto online;
	}

	/* MMU off: only boot_shared is read (the boot CPU cleaned it to PoC) */
	kernel_el = vhe_decide((u32)boot_el, &reason, &stub_ret);
	mmu_enable();

	cd->midr = (u32)read_sysreg(midr_el1);
	cd->boot_el = (u32)boot_el;
	cd->kernel_el = kernel_el;
	cd->nvhe_reason = reason;
	report_entry(cpu, cd);
	report_vhe(cpu, kernel_el, reason, stub_ret);
	report_mmu(cpu);

	/* ARM64_HAS_VIRT_HOST_EXTN is a strict boot-CPU feature: a CPU that differs from
	 * the boot CPU parks, and the boot CPU panics */
	has = kernel_el == 2;
	sys = boot_shared.system_vhe;
	if (has != sys) {
		printk("CPU%u: Detected conflict for capability Virtualization Host Extensions, "
		       "System: %u, CPU: %u", cpu, sys, has);
		event("capability_conflict", "system=%u local=%u", sys, has);
		store_release_u32(&cd->status, CPU_PANIC_KERNEL);
		dsb(ish);
		sev();
		cpu_park();
	}

online:
	gic_cpu_init(cpu);
	timer_init(cpu);
	if (hv_mode()) {
		hv_secondary_join(cpu);
		hv_secondary_check(cpu);
	}
	printk("CPU%u: Booted secondary processor 0x%010lx [0x%08x]", cpu, cd->mpidr, cd->midr);
	event("cpu_online", "el=%u", kernel_el);
	store_release_u32(&cd->status, CPU_ONLINE);
	dsb(ish);
	sev();
	local_irq_enable();
	if (hv_mode())
		hv_idle_loop();
	idle_loop();
}

static u32 next_online(u32 cpu)
{
	for (cpu++; cpu < nr_cpu_ids; cpu++)
		if (load_acquire_u32(&cpu_data[cpu].status) == CPU_ONLINE)
			break;
	return cpu;
}

/* Every CPU ends here: wait (WFE: interrupts, SEV, the event stream) until every online
 * CPU has its ticks, then print its line in CPU order; the boot CPU powers off last. */
void __noreturn idle_loop(void)
{
	u32 cpu = smp_processor_id();
	struct cpu_data *cd = &cpu_data[cpu];
	bool counted = false, printed = false;

	for (;;) {
		if (!counted && load_acquire_u32(&cd->ticks_done)) {
			atomic_add_return(&cpus_ticked, 1);
			counted = true;
			dsb(ish);
			sev();
		}
		if (!printed && load_acquire_u32(&finish_armed) &&
		    load_acquire_u32(&cpus_ticked) >= nr_online_final &&
		    load_acquire_u32(&print_turn) == cpu) {
			printk("CPU%u: %u timer ticks on PPI %u at EL%u", cpu, cd->ticks,
			       cd->timer_ppi, cd->kernel_el);
			event("ticks_done", "ticks=%u ppi=%u el=%u", cd->ticks, cd->timer_ppi,
			      cd->kernel_el);
			printed = true;
			store_release_u32(&print_turn, next_online(cpu));
			dsb(ish);
			sev();
		}
		if (cpu == 0 && printed && load_acquire_u32(&print_turn) >= nr_cpu_ids) {
			printk("reboot: Power down");
			psci_system_off();
		}
		wfe();
	}
}

/* --- exceptions (entry.S) --- */
void do_irq(struct pt_regs *regs)
{
	u32 intid = gic_ack();

	(void)regs;
	if (intid >= 1020)
		return;		/* spurious */
	if (intid < 16)
		smp_handle_ipi(intid);
	else if (intid == this_cpu()->timer_ppi)
		timer_handle_irq();
	else
		printk("CPU%u: unexpected IRQ %u", smp_processor_id(), intid);
	gic_eoi(intid);
}

void do_sync(struct pt_regs *regs)
{
	printk("CPU%u: Unhandled synchronous exception at EL%u: ESR 0x%08lx ELR 0x%lx "
	       "FAR 0x%lx SPSR 0x%lx", smp_processor_id(), current_el(), regs->esr, regs->elr,
	       regs->far, regs->spsr);
	panic("Fatal exception");
}

void do_bad(struct pt_regs *regs, u64 vector)
{
	static const char *const kind[] = { "Synchronous", "IRQ", "FIQ", "SError" };

	printk("CPU%u: Bad mode in %s handler (vector %lu) at EL%u: ESR 0x%08lx ELR 0x%lx",
	       smp_processor_id(), kind[vector & 3], vector, current_el(), regs->esr,
	       regs->elr);
	panic("Fatal exception");
}
