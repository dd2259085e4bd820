"""The committed guest images (guests/build/*.elf, and the Image of a guest in a folder
of its own) are what their sources build to: rebuilt with the GNU AArch64 toolchain into
a temporary directory, every image has the same bytes as the committed one, and every
guest source has a committed image. So a run needs no cross toolchain, and a change to
a guest that was not rebuilt and committed fails here.

A guest is an assembly file guests/NAME.s (linked with the boot stub), or a folder
guests/NAME/ with a Makefile rule of its own (C and assembly: the minikernel), which
builds NAME.elf and NAME.Image (an arm64 Linux Image)."""

import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
GUESTS = ROOT / "guests"
COMMITTED = GUESTS / "build"
STUB = "boot.s"  # linked into every guest, not a guest itself
REBUILD = "run `make -C guests` and commit guests/build/"


# guests/NAME/: its builds (NAME.elf and NAME.Image each); the minikernel's naive build
# is the same sources with the minivisor's naive race handling (guests/minikernel/minivisor)
FOLDER_GUESTS = {"minikernel": ("minikernel", "minikernel-naive")}


def sources():
    return sorted([p.stem for p in GUESTS.glob("*.s") if p.name != STUB]
                  + [b for n, builds in FOLDER_GUESTS.items() if (GUESTS / n).is_dir()
                     for b in builds])


def images():
    """Every file the build makes, by name."""
    return [f"{n}.elf" for n in sources()] + [f"{b}.Image" for builds in FOLDER_GUESTS.values()
                                              for b in builds]


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    for tool in ("aarch64-linux-gnu-as", "aarch64-linux-gnu-ld", "aarch64-linux-gnu-gcc",
                 "make"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run scripts/setup (Debian packages "
                        "binutils-aarch64-linux-gnu, gcc-aarch64-linux-gnu and make)")
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
    stale = [p.name for p in COMMITTED.iterdir() if p.is_file() and p.name not in images()]
    assert not stale, f"guests/build/ has images of no guest: {', '.join(stale)}"


@pytest.mark.parametrize("name", images())
def test_the_committed_image_is_what_the_source_builds_to(rebuilt, name):
    built = (rebuilt / name).read_bytes()
    committed = COMMITTED / name
    assert committed.is_file(), f"no committed image guests/build/{name}: {REBUILD}"
    assert committed.read_bytes() == built, (
        f"guests/build/{name} differs from what its sources build to: {REBUILD}")


def test_the_build_is_deterministic(rebuilt, tmp_path):
    """A second build elsewhere gives the same bytes (no build ids, paths or times)."""
    r = subprocess.run(["make", "-s", "-C", str(GUESTS), f"BUILD={tmp_path}"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in images():
        assert (tmp_path / name).read_bytes() == (rebuilt / name).read_bytes(), name
