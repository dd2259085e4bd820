"""Guest images: ELF files (loaded at their physical addresses, entered at their entry
point), arm64 Linux `Image` files (recognised by their header, loaded and entered as
Documentation/arm64/booting.rst says) and raw binaries (loaded at the RAM base, entered
there)."""

from __future__ import annotations

import dataclasses
import pathlib
import struct

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from smpsim.bootctl import devicetree

EM_AARCH64 = 183

# the arm64 Image header (booting.rst): code0, code1, text_offset, image_size, flags,
# res2, res3, res4, magic, res5
_IMAGE_HEADER = struct.Struct("<IIQQQQQQII")
IMAGE_MAGIC = 0x644D_5241  # "ARM\x64"
IMAGE_ALIGN = 0x20_0000  # an Image is loaded 2 MiB aligned + text_offset
IMAGE_DEFAULT_OFFSET = 0x8_0000  # text_offset of an Image whose image_size is 0


class ImageError(ValueError):
    """An image cannot be loaded; str() is the one-line message for the user."""


@dataclasses.dataclass(frozen=True)
class Segment:
    address: int
    data: bytes
    mem_size: int  # bytes in memory; the part after `data` is zero-filled


@dataclasses.dataclass(frozen=True)
class Image:
    path: pathlib.Path
    kind: str  # "elf", "linux" (an arm64 Image) or "raw"
    entry: int
    segments: tuple[Segment, ...]


def load(path: str | pathlib.Path, ram_base: int, ram_size: int) -> Image:
    path = pathlib.Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read: {exc.strerror}") from None
    if data[:4] == b"\x7fELF":
        image = _load_elf(path)
    elif len(data) >= _IMAGE_HEADER.size and _IMAGE_HEADER.unpack_from(data)[8] == IMAGE_MAGIC:
        image = _load_linux(path, data, ram_base)
    else:
        if not data:
            raise ImageError(f"{path}: empty image")
        image = Image(path, "raw", ram_base, (Segment(ram_base, data, len(data)),))
    for seg in image.segments:
        if seg.address < ram_base or seg.address + seg.mem_size > ram_base + ram_size:
            raise ImageError(f"{path}: a segment at [{seg.address:#x}, {seg.address + seg.mem_size:#x}) "
                             f"is outside RAM [{ram_base:#x}, {ram_base + ram_size:#x})")
    return image


def _load_linux(path: pathlib.Path, data: bytes, ram_base: int) -> Image:
    """An arm64 Image: at the first 2 MiB boundary of RAM plus text_offset (0x80000 when
    image_size is 0, for kernels older than 3.17), entered at its first byte; image_size
    bytes of memory (its BSS included) are its own."""
    _, _, text_offset, image_size, flags, *_ = _IMAGE_HEADER.unpack_from(data)
    if flags & 1:
        raise ImageError(f"{path}: a big-endian kernel Image (flags bit 0) is not supported")
    if image_size == 0:
        text_offset = IMAGE_DEFAULT_OFFSET
    base = -(-ram_base // IMAGE_ALIGN) * IMAGE_ALIGN + text_offset
    return Image(path, "linux", base, (Segment(base, data, max(image_size, len(data))),))


def _load_elf(path: pathlib.Path) -> Image:
    try:
        with path.open("rb") as f:
            elf = ELFFile(f)
            if elf.elfclass != 64 or elf["e_machine"] != "EM_AARCH64":
                raise ImageError(f"{path}: not a 64-bit AArch64 ELF file ({elf['e_machine']}, "
                                 f"ELFCLASS{elf.elfclass})")
            if not elf.little_endian:
                raise ImageError(f"{path}: big-endian images are not supported")
            segments = []
            for seg in elf.iter_segments():
                if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
                    continue
                segments.append(Segment(seg["p_paddr"], seg.data(), seg["p_memsz"]))
            if not segments:
                raise ImageError(f"{path}: no loadable segment")
            return Image(path, "elf", elf["e_entry"], tuple(segments))
    except (ELFError, ValueError) as exc:
        if isinstance(exc, ImageError):
            raise
        raise ImageError(f"{path}: malformed ELF file: {exc}") from None


def for_topology(topology, image_path=None) -> Image:
    """The image a run boots: `image_path` (--kernel) or the topology's boot.image; an
    ImageError names the topology key when the image came from it."""
    path = image_path or topology.boot.image
    if path is None:
        raise ImageError(f"{topology.path}: no image: set boot.image or give --kernel")
    m = topology.machine
    try:
        image = load(path, m.ram_base, m.ram_size)
    except ImageError as exc:
        if image_path:
            raise
        missing = pathlib.Path(path)
        hint = "" if missing.exists() else " (give --kernel IMAGE" + (
            "; scripts/fetch-kernel fetches a Linux kernel there)" if missing.name == "Image"
            else ")")
        raise ImageError(f"{topology.path}: boot.image: {exc}{hint}") from None
    release = topology.boot.release_address
    if release is not None:  # the image must not overwrite the spin-table pen's word
        for seg in image.segments:
            if seg.address < release + 8 and release < seg.address + seg.mem_size:
                raise ImageError(f"{topology.path}: boot.release_address: {release:#x} is inside "
                                 f"{image.path}'s segment [{seg.address:#x}, "
                                 f"{seg.address + seg.mem_size:#x})")
    return image


DTB_MAX = 2 << 20  # booting.rst: the device tree must not exceed 2 MiB


def device_tree(topology, image: Image, cmdline: str | None = None,
                dtb_path: str | pathlib.Path | None = None,
                initrd_path: str | pathlib.Path | None = None) -> tuple[Segment, Segment | None]:
    """The device tree the boot CPU gets in x0 and the initial RAM disk, where each goes
    in RAM. The tree is generated from the topology (devicetree.py; `cmdline` instead of
    boot.cmdline) or read from `dtb_path`; the RAM disk is `initrd_path` or boot.initrd.

    The places are QEMU's (hw/arm/boot.c): the RAM disk half-way into RAM (at most
    128 MiB in), or after the image's end if that is higher, page-aligned; the tree
    after the RAM disk at the next 2 MiB boundary (what QEMU does for a 64-bit kernel),
    so without a RAM disk at that place's 2 MiB boundary."""
    m = topology.machine
    ram_end = m.ram_base + m.ram_size
    image_end = max(seg.address + seg.mem_size for seg in image.segments)
    start = _align(max(m.ram_base + min(m.ram_size // 2, 128 << 20), image_end), 4096)
    initrd = None
    initrd_path = initrd_path or topology.boot.initrd
    if initrd_path is not None:
        try:
            data = pathlib.Path(initrd_path).read_bytes()
        except OSError as exc:
            raise ImageError(f"{initrd_path}: cannot read: {exc.strerror}") from None
        if not data:
            raise ImageError(f"{initrd_path}: empty initrd")
        if start + len(data) > ram_end:
            raise ImageError(f"{initrd_path}: {len(data)} bytes: no room in RAM after "
                             f"{image.path} (from {start:#x} to the end of RAM, {ram_end:#x})")
        initrd = Segment(start, data, len(data))
    if dtb_path is not None:
        try:
            blob = pathlib.Path(dtb_path).read_bytes()
        except OSError as exc:
            raise ImageError(f"{dtb_path}: cannot read: {exc.strerror}") from None
        if blob[:4] != struct.pack(">I", devicetree.FDT_MAGIC):
            raise ImageError(f"{dtb_path}: not a flattened device tree (no FDT magic)")
    else:
        span = (initrd.address, initrd.address + len(initrd.data)) if initrd else None
        blob = devicetree.for_topology(topology, cmdline, span)
    if len(blob) > DTB_MAX:
        raise ImageError(f"{dtb_path}: the device tree is {len(blob)} bytes, over 2 MiB")
    address = _align(start + (len(initrd.data) if initrd else 0), IMAGE_ALIGN)
    if address + len(blob) > ram_end:
        what = f"{initrd_path} and the device tree" if initrd else "the device tree"
        raise ImageError(f"{image.path}: no room in RAM for {what} above the image")
    return Segment(address, blob, len(blob)), initrd


def _align(address: int, alignment: int) -> int:
    return -(-address // alignment) * alignment


def resolve(topology, image: Image | None, at: int | str) -> int:
    """The physical address an injection's `at` names: an address as it is, a symbol
    through the ELF image's symbol table (its value: the image is linked where it runs);
    an ImageError unless it is a 4-byte aligned address in the topology's RAM."""
    if isinstance(at, int):
        address = at
    else:
        address = _symbol(image, at)
    m = topology.machine
    if not m.ram_base <= address < m.ram_base + m.ram_size or address & 3:
        raise ImageError(f"{topology.path}: inject at {at!r} = {address:#x}: not a 4-byte "
                         "aligned address in RAM")
    return address


def _symbol(image: Image | None, at: str) -> int:
    if image is None or image.kind != "elf":
        where = image.path if image is not None else "no image"
        raise ImageError(f"{where}: a symbol ({at!r}) needs an ELF image with a "
                         "symbol table")
    with image.path.open("rb") as f:
        table = ELFFile(f).get_section_by_name(".symtab")
        found = table.get_symbol_by_name(at) if table is not None else None
        if not found:
            raise ImageError(f"{image.path}: no symbol {at!r}")
        return found[0]["st_value"]

