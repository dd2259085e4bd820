"""The decoded-instruction cache: one row (records.py) per instruction word of a page.

RAM pages that have been executed get a slot of PAGE_INSNS rows; rows are decoded
lazily, the first time the interpreter reaches them (op 0 = not decoded yet). Slots
are recycled round robin when all are in use.

Each slot ends with one more row whose op is PAGE_END, and the cache ends with one
such row of its own (the lookup row): code that runs off the end of its page, and
a branch to another page (which points the interpreter at that last row), reach the
page lookup through the ordinary dispatch, so the interpreter tests nothing per
instruction to notice a page change.

`page_slot[page]` doubles as the "this page holds decoded code" mark that the store
path checks: a store into such a page clears the rows it overwrote, so code that
modifies itself, or a kernel that patches itself, re-decodes the new words. (Stores
from other CPU processes are a different matter: they become visible through the
architected cache maintenance, handled where that is implemented.)

Arrays:
    page_slot  int32[ram pages]      slot of each RAM page, -1 if none
    slot_page  int64[slots]          page held by each slot, -1 if free
    dec        uint64[slots * SLOT_ROWS + 1, RECORD_WORDS]
"""

import numpy as np

from smpsim.jit import ops
from smpsim.jit.compile import jit
from smpsim.jit.records import F_OP, RECORD_WORDS
from smpsim.jit.state import CACHE_CLOCK

PAGE_SHIFT = 12
PAGE_INSNS = 1 << (PAGE_SHIFT - 2)
SLOT_ROWS = PAGE_INSNS + 1  # the page's instructions, then its PAGE_END row
DEFAULT_SLOTS = 256  # 256 pages of code (1 MiB) per CPU; rows are 64 bytes


def new_cache(ram_size: int, slots: int = DEFAULT_SLOTS):
    pages = (ram_size + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT
    page_slot = np.full(pages, -1, dtype=np.int32)
    slot_page = np.full(slots, -1, dtype=np.int64)
    dec = np.zeros((slots * SLOT_ROWS + 1, RECORD_WORDS), dtype=np.uint64)
    # slots get their PAGE_END row when first used (slot_for_page), which leaves the
    # memory of unused slots untouched
    dec[-1, F_OP] = ops.PAGE_END  # the lookup row
    return page_slot, slot_page, dec





@jit
def slot_for_page(cpu, page_slot, slot_page, dec, page):
    """The slot holding `page`, taking one (and evicting its page) if there is none."""
    slot = page_slot[page]
    if slot >= 0:
        return np.int64(slot)
    slots = slot_page.shape[0]
    victim = np.int64(cpu[CACHE_CLOCK]) % slots
    cpu[CACHE_CLOCK] = np.uint64((victim + 1) % slots)
    old = slot_page[victim]
    if old >= 0:
        page_slot[old] = -1
        base = victim * SLOT_ROWS
        for i in range(PAGE_INSNS):
            dec[base + i, F_OP] = 0
    slot_page[victim] = page
    page_slot[page] = victim
    dec[victim * SLOT_ROWS + PAGE_INSNS, F_OP] = ops.PAGE_END
    return victim


@jit
def note_store(page_slot, dec, off, nbytes):
    """A store of `nbytes` at RAM offset `off`: forget any decoded word it overwrote."""
    start = np.int64(off)
    end = start + np.int64(nbytes)
    if page_slot[start >> PAGE_SHIFT] < 0 and page_slot[(end - 1) >> PAGE_SHIFT] < 0:
        return
    word = start & ~3
    while word < end:
        slot = page_slot[word >> PAGE_SHIFT]
        if slot >= 0:
            dec[np.int64(slot) * SLOT_ROWS + ((word >> 2) & (PAGE_INSNS - 1)), F_OP] = 0
        word += 4


@jit
def flush(page_slot, slot_page, dec):
    """Forget every decoded instruction (instruction cache invalidate all)."""
    for slot in range(slot_page.shape[0]):
        page = slot_page[slot]
        if page >= 0:
            page_slot[page] = -1
            slot_page[slot] = -1
            base = slot * SLOT_ROWS
            for i in range(PAGE_INSNS):
                dec[base + i, F_OP] = 0
