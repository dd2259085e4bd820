"""A CPU process takes the GIC's offer (doorbell.OFFER) for ICC_IAR1_EL1 without a round
trip, at most once, only after the GIC served its previous one, and hides its IRQ line
until then (cpu_worker/process.py's ZmqPorts)."""

from smpsim.cpu_worker.process import ZmqPorts
from smpsim.interconnect import bus, doorbell
from smpsim.interconnect import protocol as p


class Link:
    def __init__(self):
        self.posted, self.asked = [], []

    def post(self, data):
        self.posted.append(p.decode(data))

    def ask(self, data):
        self.asked.append(p.decode(data))
        return {"t": "ICC_VALUE", "value": 1023}


def ports(bells):
    return ZmqPorts(None, 1, None, Link(), Link(), bells, bus.Bus.virt(2, 0x4000_0000, 1 << 20))


def test_an_offer_is_taken_once_and_the_next_only_after_the_gic_served_it():
    with doorbell.Doorbells.create(2) as bells:
        pp = ports(bells)
        bells.set(1, doorbell.OFFER, doorbell.offer(1, 5, 0))
        bells.set(1, doorbell.IRQ, 1)
        assert pp.icc_read("ICC_IAR1_EL1", 2) == 1
        assert pp.gic.posted == [{"t": "ICC_ACK", "cpu": 1, "intid": 1, "gen": 5}]
        assert pp.lines() == (False, False)  # hidden until the GIC has served it
        # the same offer again: asked, not taken twice
        assert pp.icc_read("ICC_IAR1_EL1", 2) == 1023 and len(pp.gic.asked) == 1
        # a newer offer the GIC made before serving the acknowledgement: asked too
        bells.set(1, doorbell.OFFER, doorbell.offer(2, 6, 0))
        assert pp.icc_read("ICC_IAR1_EL1", 2) == 1023 and len(pp.gic.asked) == 2
        # served, with a new offer: taken, and the line shows again
        bells.set(1, doorbell.OFFER, doorbell.offer(2, 7, 5))
        assert pp.lines() == (True, False)
        assert pp.icc_read("ICC_IAR1_EL1", 2) == 2
        assert pp.gic.posted[-1] == {"t": "ICC_ACK", "cpu": 1, "intid": 2, "gen": 7}


def test_no_offer_or_a_spurious_one_asks_the_gic():
    with doorbell.Doorbells.create(2) as bells:
        pp = ports(bells)
        assert pp.icc_read("ICC_IAR1_EL1", 2) == 1023  # nothing offered yet
        bells.set(1, doorbell.OFFER, doorbell.offer(doorbell.SPURIOUS, 1, 0))
        assert pp.icc_read("ICC_IAR1_EL1", 2) == 1023
        assert len(pp.gic.asked) == 2 and pp.gic.posted == []
        pp.icc_read("ICC_PMR_EL1", 2)  # other registers always ask
        assert pp.gic.asked[-1]["reg"] == "ICC_PMR_EL1"
