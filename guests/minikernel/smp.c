/*
 * minikernel: secondary CPU bring-up (PSCI CPU_ON or spin-table), one CPU at a time,
 * and the IPIs: IPI_PING (boot CPU -> secondary), IPI_PONG (back), IPI_STOP (panic).
 */
#include "kernel.h"
#include "minivisor/minivisor.h"

#define PSCI_RET_INVALID_PARAMS	(-2)
#define PSCI_RET_ALREADY_ON	(-4)
#define PSCI_RET_NOT_PRESENT	(-7)
#define BOOT_TIMEOUT		(-1000)

enum { IPI_PING = 0, IPI_PONG = 1, IPI_STOP = 2 };

/* read by secondaries with their MMU off (head.S): in .data, cleaned to PoC */
u64 cpu_logical_map[NR_CPUS] __attribute__((section(".data"))) = {
	[0 ... NR_CPUS - 1] = INVALID_HWID,
};
u32 secondary_go __attribute__((section(".data"))) = 0;
u32 nr_cpu_ids = 1;

static const char *const status_name[] = {
	"off", "booting", "online", "parked (capability conflict)", "failed",
};

static void publish_boot_data(void)
{
	dcache_clean_poc(cpu_logical_map, sizeof(cpu_logical_map));
	dcache_clean_poc(&secondary_go, sizeof(secondary_go));
	dcache_clean_poc(&boot_shared, sizeof(boot_shared));
}

static const char *method_name(u32 m)
{
	return m == EM_PSCI ? "psci" : m == EM_SPIN_TABLE ? "spin-table" : "unknown";
}

/* Start the CPU with this MPIDR as logical CPU `id` and wait until it is online, has
 * parked itself, or the time is up. 0 when it came online; else a PSCI error, or
 * BOOT_TIMEOUT, or 1 when it parked (the caller panics). */
static s64 boot_secondary(u32 id, u64 mpidr, u32 method, u64 release_addr)
{
	struct cpu_data *cd = &cpu_data[id];
	u64 entry = (u64)_text, deadline;
	s64 ret = 0;
	u32 status;

	memset(cd, 0, sizeof(*cd));
	cd->mpidr = mpidr;
	store_release_u32(&cd->status, CPU_BOOTING);
	cpu_logical_map[id] = mpidr;
	secondary_go = 1;
	publish_boot_data();
	sev();			/* for the CPUs waiting in head.S's holding pen */

	if (method == EM_PSCI) {
		ret = psci_cpu_on(mpidr, entry, id);
	} else if (method == EM_SPIN_TABLE && release_addr) {
		*(volatile u64 *)release_addr = entry;
		dcache_clean_poc((void *)release_addr, 8);
		dsb(sy);
		sev();
	} else {
		printk("CPU%u: enable-method %s%s: cannot boot it", id, method_name(method),
		       method == EM_SPIN_TABLE ? " without cpu-release-addr" : "");
		ret = -1;
	}
	if (ret) {
		cd->status = CPU_OFF;
		cpu_logical_map[id] = INVALID_HWID;
		publish_boot_data();
		return ret;
	}

	deadline = counter_read() + ns_to_ticks(CPU_ON_TIMEOUT_MS * 1000000UL);
	while ((status = load_acquire_u32(&cd->status)) == CPU_BOOTING &&
	       counter_read() < deadline)
		cpu_relax_wait();
	if (status == CPU_ONLINE)
		return 0;
	printk("CPU%u: failed to come online", id);
	if (status == CPU_PANIC_KERNEL)
		return 1;
	cd->status = CPU_FAILED;
	return BOOT_TIMEOUT;
}

static bool start_one(u32 *next, u64 mpidr, u32 method, u64 release, s64 *err)
{
	s64 ret;

	if (*next >= NR_CPUS) {
		printk("smp: more CPUs than NR_CPUS (%u): 0x%lx not started", NR_CPUS, mpidr);
		*err = PSCI_RET_INVALID_PARAMS;
		return false;
	}
	ret = boot_secondary(*next, mpidr, method, release);
	*err = ret;
	if (ret == 1)
		panic("CPU%u detected unsupported configuration", *next);
	if (ret == 0 || ret == BOOT_TIMEOUT) {
		(*next)++;		/* its logical number stays taken */
		nr_cpu_ids = *next;
		return ret == 0;
	}
	return false;
}

/* hv_race=cpu_on: the last CPU of the FDT is not started at boot, but just before the
 * hypervisor is enabled (smp_boot_deferred_cpu: CPU_ON, without waiting for it) */
static struct cpu_desc deferred;
static bool have_deferred;

u32 smp_boot_deferred_cpu(void)
{
	u32 id = nr_cpu_ids;
	struct cpu_data *cd = &cpu_data[id];
	s64 ret;

	if (!have_deferred || id >= NR_CPUS)
		return ~0U;
	memset(cd, 0, sizeof(*cd));
	cd->mpidr = deferred.mpidr;
	store_release_u32(&cd->status, CPU_BOOTING);
	cpu_logical_map[id] = deferred.mpidr;
	nr_cpu_ids = id + 1;
	publish_boot_data();
	ret = psci_cpu_on(deferred.mpidr, (u64)_text, id);
	if (ret) {
		printk("CPU%u: failed to boot (psci, MPIDR 0x%lx): %ld", id, deferred.mpidr, ret);
		cd->status = CPU_OFF;
		return ~0U;
	}
	return id;
}

void smp_bring_up_secondaries(void)
{
	u64 boot_mpidr = cpu_data[0].mpidr;
	u32 next = 1, i;
	s64 err;

	printk("smp: Bringing up secondary CPUs ...");
	if (plat.nr_desc) {
		/* the FDT's /cpus, in its order */
		for (i = 0; i < plat.nr_desc; i++) {
			struct cpu_desc *d = &plat.desc[i];

			if (d->mpidr == boot_mpidr)
				continue;
			if (hv_race_cpu_on() && i == plat.nr_desc - 1 && d->method == EM_PSCI) {
				deferred = *d;
				have_deferred = true;
				continue;
			}
			if (!start_one(&next, d->mpidr, d->method, d->release_addr, &err) &&
			    err != BOOT_TIMEOUT)
				printk("CPU%u: failed to boot (%s, MPIDR 0x%lx): %ld", next,
				       method_name(d->method), d->mpidr, err);
		}
	} else {
		/* no FDT: PSCI CPU_ON for Aff0 = 0..15 of cluster Aff1 = 0, 1, ... until
		 * it answers NOT_PRESENT or INVALID_PARAMETERS; a cluster (beyond the boot
		 * CPU's) without a CPU at Aff0 = 0 ends the search */
		u64 aff1, aff0;

		for (aff1 = 0; aff1 < 256; aff1++) {
			bool found = false;

			for (aff0 = 0; aff0 < 16; aff0++) {
				u64 mpidr = aff1 << 8 | aff0;

				if (mpidr == boot_mpidr) {
					found = true;
					continue;
				}
				if (start_one(&next, mpidr, EM_PSCI, 0, &err) ||
				    err == BOOT_TIMEOUT) {
					found = true;
					continue;
				}
				if (err == PSCI_RET_NOT_PRESENT || err == PSCI_RET_INVALID_PARAMS)
					break;
				printk("psci: failed to boot MPIDR 0x%lx (%ld)", mpidr, err);
				if (next >= NR_CPUS)
					break;
			}
			if (!found || next >= NR_CPUS)
				break;
		}
	}
	printk("smp: Brought up 1 node, %u CPU%s", num_online_cpus(),
	       num_online_cpus() == 1 ? "" : "s");
	for (i = 1; i < nr_cpu_ids; i++)
		if (cpu_data[i].status != CPU_ONLINE)
			printk("CPU%u: %s", i, status_name[cpu_data[i].status]);
}

u32 num_online_cpus(void)
{
	u32 i, n = 0;

	for (i = 0; i < nr_cpu_ids; i++)
		n += load_acquire_u32(&cpu_data[i].status) == CPU_ONLINE;
	return n;
}

/* the boot CPU pings each online secondary, which pongs back: the round trip */
void smp_ipi_round_trips(void)
{
	struct cpu_data *me = &cpu_data[0];
	u32 i;

	for (i = 1; i < nr_cpu_ids; i++) {
		u64 t0, deadline;

		if (load_acquire_u32(&cpu_data[i].status) != CPU_ONLINE)
			continue;
		store_release_u32(&me->pong_seen, 0);
		t0 = counter_read();
		deadline = t0 + ns_to_ticks(IPI_TIMEOUT_MS * 1000000UL);
		gic_send_sgi(i, IPI_PING);
		while (!load_acquire_u32(&me->pong_seen) && counter_read() < deadline)
			cpu_relax_wait();
		if (!load_acquire_u32(&me->pong_seen)) {
			printk("IPI: CPU0 -> CPU%u: no answer in %u ms", i, IPI_TIMEOUT_MS);
			continue;
		}
		printk("IPI: CPU0 -> CPU%u -> CPU0 round trip: %lu counter ticks (%lu ns)", i,
		       me->pong_count - t0, ticks_to_ns(me->pong_count - t0));
	}
}

void smp_handle_ipi(u32 sgi)
{
	struct cpu_data *cd = this_cpu();

	switch (sgi) {
	case IPI_PING:
		cd->ipi_pings++;
		gic_send_sgi(0, IPI_PONG);
		break;
	case IPI_PONG:
		cd->pong_count = counter_read();
		store_release_u32(&cd->pong_seen, 1);
		dsb(ish);
		sev();
		break;
	case IPI_STOP:
		printk("CPU%u: stopping", smp_processor_id());
		store_release_u32(&cd->status, CPU_OFF);
		dsb(ish);
		sev();
		cpu_park();
	case 3:		/* IPI_HV_ENABLE, IPI_HV_DISABLE: the hypervisor driver's */
	case 4:
		hv_handle_ipi(sgi);
		break;
	default:
		printk("CPU%u: unexpected IPI %u", smp_processor_id(), sgi);
	}
}

/* panic(): stop every other online CPU (it parks with interrupts masked) */
void smp_send_stop(void)
{
	u32 me = smp_processor_id(), i, others = 0;
	u64 deadline;

	for (i = 0; i < nr_cpu_ids; i++)
		others += i != me && load_acquire_u32(&cpu_data[i].status) == CPU_ONLINE;
	if (!others)
		return;
	printk("SMP: stopping secondary CPUs");
	for (i = 0; i < nr_cpu_ids; i++)
		if (i != me && load_acquire_u32(&cpu_data[i].status) == CPU_ONLINE)
			gic_send_sgi(i, IPI_STOP);
	deadline = counter_read() + ns_to_ticks(1000000000UL);
	for (i = 0; i < nr_cpu_ids; i++)
		while (i != me && load_acquire_u32(&cpu_data[i].status) == CPU_ONLINE &&
		       counter_read() < deadline)
			cpu_relax_wait();
}
