"""The committed guest images (guests/build/*.elf) are what their sources build to:
rebuilt with the GNU AArch64 binutils into a temporary directory, every image has the
same bytes as the committed one, and every guest source has a committed image. So a
run needs no cross toolchain, and a change to a guest that was not rebuilt and
committed fails here."""

import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
GUESTS = ROOT / "guests"
COMMITTED = GUESTS / "build"
STUB = "boot.s"  # linked into every guest, not a guest itself
REBUILD = "run `make -C guests` and commit guests/build/*.elf"


def sources():
    return sorted(p.stem for p in GUESTS.glob("*.s") if p.name != STUB)


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    for tool in ("aarch64-linux-gnu-as", "aarch64-linux-gnu-ld", "make"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run scripts/setup (Debian packages "
                        "binutils-aarch64-linux-gnu and make)")
    out = tmp_path_factory.mktemp("guests")
    r = subprocess.run(["make", "-s", "-C", str(GUESTS), f"BUILD={out}"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return out


def test_every_guest_has_a_committed_image():
    missing = [f"guests/build/{name}.elf" for name in sources()
               if not (COMMITTED / f"{name}.elf").is_file()]
    assert not missing, f"no committed image {', '.join(missing)}: {REBUILD}"


def test_no_committed_image_without_its_source():
    stale = [p.name for p in COMMITTED.glob("*.elf") if p.stem not in sources()]
    assert not stale, f"guests/build/ has images of no guest: {', '.join(stale)}"


@pytest.mark.parametrize("name", sources())
def test_the_committed_image_is_what_the_source_builds_to(rebuilt, name):
    built = (rebuilt / f"{name}.elf").read_bytes()
    committed = COMMITTED / f"{name}.elf"
    assert committed.is_file(), f"no committed image guests/build/{name}.elf: {REBUILD}"
    assert committed.read_bytes() == built, (
        f"guests/build/{name}.elf differs from what guests/{name}.s builds to: {REBUILD}")


def test_the_build_is_deterministic(rebuilt, tmp_path):
    """A second build elsewhere gives the same bytes (no build ids, paths or times)."""
    r = subprocess.run(["make", "-s", "-C", str(GUESTS), f"BUILD={tmp_path}"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in sources():
        assert (tmp_path / f"{name}.elf").read_bytes() == (rebuilt / f"{name}.elf").read_bytes()
