"""Guest images: ELF files (loaded at their physical addresses, entered at their entry
point) and raw binaries (loaded at the RAM base, entered there)."""

from __future__ import annotations

import dataclasses
import pathlib

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

EM_AARCH64 = 183


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
    kind: str  # "elf" or "raw"
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
    else:
        if not data:
            raise ImageError(f"{path}: empty image")
        image = Image(path, "raw", ram_base, (Segment(ram_base, data, len(data)),))
    for seg in image.segments:
        if seg.address < ram_base or seg.address + seg.mem_size > ram_base + ram_size:
            raise ImageError(f"{path}: a segment at [{seg.address:#x}, {seg.address + seg.mem_size:#x}) "
                             f"is outside RAM [{ram_base:#x}, {ram_base + ram_size:#x})")
    return image


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
        raise ImageError(f"{topology.path}: boot.image: {exc}") from None
    release = topology.boot.release_address
    if release is not None:  # the image must not overwrite the spin-table pen's word
        for seg in image.segments:
            if seg.address < release + 8 and release < seg.address + seg.mem_size:
                raise ImageError(f"{topology.path}: boot.release_address: {release:#x} is inside "
                                 f"{image.path}'s segment [{seg.address:#x}, "
                                 f"{seg.address + seg.mem_size:#x})")
    return image
