"""Colab's preinstalled packages: constraints, "would installing change any?", environment checks.

Colab's runtime image lists what it preinstalls (googlecolab/backend-info: ``pip-freeze.txt``,
``pip-freeze.gpu.txt`` and ``os-info.txt``, copied with their source and date into
``tests/colab/``). Anything a running kernel has imported (traitlets, ipykernel, IPython,
ipywidgets, tornado, zmq) must not change when a user runs ``%pip install drivewidget``, or
Colab asks for a runtime restart. This script checks that, and builds test environments at
Colab's exact versions:

    colab_stack.py constraints [--image gpu]     # pip constraints: every pinned package
    colab_stack.py would-change [--image gpu] [REQ ...]
        # resolve REQ (default: the project's dependencies) against the image, with the image's
        # own pip and Python version, in a stand-in environment holding every preinstalled
        # package; exit 1 and list them if any would be upgraded or downgraded
    colab_stack.py check-env PYTHON              # every package of PYTHON's environment that
                                                 # Colab has is at Colab's version
    colab_stack.py preinstall PYTHON [--image gpu] [PACKAGE ...]
        # install into PYTHON's environment, at Colab's versions, its pip, its kernel stack,
        # those of the project's dependencies it preinstalls, and PACKAGEs (test tools)
    colab_stack.py install-unchanged PYTHON -- PIP_ARGS...
        # pip install into PYTHON's environment; exit 1 if any package already there changed
    colab_stack.py refresh GIT_DIR               # copy the lists again from a clone
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "colab"
FREEZES = {"cpu": DATA / "pip-freeze.txt", "gpu": DATA / "pip-freeze.gpu.txt"}
OS_INFO = DATA / "os-info.txt"
SOURCE_FILES = ("pip-freeze.txt", "pip-freeze.gpu.txt", "os-info.txt")
KERNEL_STACK = (
    "ipykernel", "ipython", "traitlets", "ipywidgets", "widgetsnbextension", "jupyter_client",
    "jupyter_core", "tornado", "pyzmq", "notebook",
)  # fmt: skip
"""What Colab's kernel and its classic-notebook front end run on (all preinstalled there)."""
PIP_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "drivewidget" / "colab-pip"


def normalize(name: str) -> str:
    """PEP 503 name: what pip compares (``Jupyter_Client`` == ``jupyter-client``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Preinstalled:
    name: str
    version: str
    url: str = ""  # set for ``name @ url`` lines (pip cannot take those as constraints)


def _version_from_url(name: str, url: str) -> str:
    """The version in a wheel's or sdist's file name; "0+unknown" for a git checkout."""
    filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    stem = re.sub(r"(\.tar\.gz|\.zip|\.whl)$", "", filename)
    head, _, rest = stem.partition("-")
    if normalize(head) == normalize(name) and rest:
        return rest.split("-", 1)[0]
    return "0+unknown"


def read_freeze(image: str = "cpu") -> dict[str, Preinstalled]:
    """The image's preinstalled packages by normalized name."""
    found: dict[str, Preinstalled] = {}
    for raw in FREEZES[image].read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if " @ " in line:
            name, url = (part.strip() for part in line.split(" @ ", 1))
            found[normalize(name)] = Preinstalled(name, _version_from_url(name, url), url)
        elif "==" in line:
            name, version = (part.strip() for part in line.split("==", 1))
            found[normalize(name)] = Preinstalled(name, version)
        else:
            raise ValueError(f"{FREEZES[image]}: unexpected line {raw!r}")
    return found


def python_version() -> str:
    """Colab's Python as ``3.13`` (from os-info.txt's ``Python 3.13.15``)."""
    match = re.search(r"^Python (\d+)\.(\d+)", OS_INFO.read_text(), re.MULTILINE)
    if match is None:
        raise ValueError(f"{OS_INFO}: no 'Python X.Y' line")
    return f"{match[1]}.{match[2]}"


def constraints(image: str = "cpu") -> str:
    """pip constraints pinning every preinstalled package that has a plain version."""
    pins = [f"{p.name}=={p.version}" for p in read_freeze(image).values() if not p.url]
    return (
        f"# Colab's preinstalled packages ({image} image), from {FREEZES[image].name}\n"
        + "\n".join(pins)
        + "\n"
    )


def project_requirements(extras: Sequence[str] = ("rclone",)) -> list[str]:
    """What ``pip install drivewidget[extras]`` asks for: pyproject's dependencies and extras."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    return requirements


# -- would installing change a preinstalled package? -------------------------------------


@dataclass(frozen=True)
class Change:
    name: str
    before: str
    after: str

    def __str__(self) -> str:
        return f"{self.name} {self.before} -> {self.after}"


def _stand_in_environment(folder: Path, packages: Iterable[Preinstalled]) -> Path:
    """A virtual environment whose site-packages holds a bare ``.dist-info`` per package.

    pip decides what is installed from that metadata alone, so it answers as it would on
    the image, without installing 600 packages. Returns the environment's Python.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    for package in packages:
        info = Path(site) / f"{re.sub(r'[-.]+', '_', package.name)}-{package.version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {package.name}\nVersion: {package.version}\n"
        )
        (info / "INSTALLER").write_text("pip\n")
    return python


def colab_pip(cache: Path = PIP_CACHE, image: str = "cpu") -> Path:
    """The wheel of the pip version the image has (downloaded once): pip runs from a wheel."""
    version = read_freeze(image)["pip"].version
    wheel = cache / f"pip-{version}-py3-none-any.whl"
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             f"pip=={version}", "--dest", str(cache)],
            check=True,
        )  # fmt: skip
    return wheel


def would_change(
    requirements: Sequence[str], image: str = "cpu", *, workdir: Path | None = None, cache: Path = PIP_CACHE
) -> tuple[list[Change], list[str]]:
    """(changed preinstalled packages, newly added ``name==version``) of ``pip install REQS``.

    Runs the image's pip in a stand-in of the image (every package at its version), for the
    image's Python version, as a dry run: nothing is installed, only wheels are considered.
    """
    preinstalled = read_freeze(image)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        python = _stand_in_environment(Path(tmp) / "env", preinstalled.values())
        report = Path(tmp) / "report.json"
        argv = [
            str(python), str(colab_pip(cache, image) / "pip"), "install", "--dry-run", "--quiet",
            "--disable-pip-version-check", "--no-input", "--report", str(report),
            "--python-version", python_version(), "--only-binary=:all:", *requirements,
        ]  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(
                f"pip could not resolve {' '.join(requirements)} on Colab's {image} image:\n"
                + result.stdout
                + result.stderr
            )
        installs = json.loads(report.read_text())["install"]
    changes, added = [], []
    for item in installs:
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        before = preinstalled.get(normalize(name))
        if before is None:
            added.append(f"{name}=={version}")
        elif before.version != version:
            changes.append(Change(before.name, before.version, version))
    return changes, added


# -- real environments ------------------------------------------------------------------


def installed(python: str | Path) -> dict[str, tuple[str, str]]:
    """normalized name -> (name, version) of every distribution in ``python``'s environment."""
    listing = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {normalize(d["name"]): (d["name"], d["version"]) for d in json.loads(listing)}


def off_colab_versions(python: str | Path, image: str = "cpu") -> list[Change]:
    """Packages of ``python``'s environment that Colab has at another version."""
    preinstalled = read_freeze(image)
    return [
        Change(name, preinstalled[key].version, version)
        for key, (name, version) in installed(python).items()
        if key in preinstalled and preinstalled[key].version != version
    ]


def preinstall(python: str | Path, packages: Sequence[str] = (), image: str = "cpu") -> None:
    """Install Colab's pip, kernel stack and the project's dependencies it has, at its versions.

    Also ``packages`` (e.g. test tools): whatever of their dependencies Colab has comes at
    Colab's version too, since the whole image is the constraint.
    """
    preinstalled = read_freeze(image)
    wanted = [*KERNEL_STACK]
    for requirement in project_requirements():
        name = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]
        if normalize(name) in preinstalled:
            wanted.append(name)
    with tempfile.NamedTemporaryFile("w", prefix="colab-", suffix=".txt") as pins:
        pins.write(constraints(image))
        pins.flush()
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-c", pins.name]
        subprocess.run([*pip, "pip"], check=True)  # Colab's pip does the rest
        subprocess.run([*pip, *wanted, *packages], check=True)


def install_unchanged(python: str | Path, pip_args: Sequence[str]) -> list[Change]:
    """``pip install PIP_ARGS`` into ``python``'s environment; what it changed that was there."""
    before = installed(python)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", *pip_args], check=True
    )
    after = installed(python)
    return [
        Change(name, version, after.get(key, (name, "(removed)"))[1])
        for key, (name, version) in before.items()
        if after.get(key, (name, "(removed)"))[1] != version
    ]


def refresh(git_dir: Path) -> None:
    """Copy the lists again from a clone of googlecolab/backend-info (its HEAD), with a header."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(git_dir), *args], capture_output=True, text=True, check=True
        ).stdout

    commit, date, subject = git("log", "-1", "--format=%H%n%ad%n%s", "--date=short").splitlines()[:3]
    for name in SOURCE_FILES:
        header = (
            f"# drivewidget: copied unchanged below from googlecolab/backend-info, file {name},\n"
            f'# commit {commit} ({date}, "{subject}").\n'
            "# Refresh all three with: scripts/colab_stack.py refresh <git dir of googlecolab/backend-info>\n"
        )
        (DATA / name).write_text(header + git("show", f"HEAD:{name}"))
        print(f"{DATA / name}: {commit[:12]} ({date})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("constraints", "would-change", "check-env"):
        sub = commands.add_parser(name)
        sub.add_argument("--image", choices=sorted(FREEZES), default="cpu")
        if name == "would-change":
            sub.add_argument("requirements", nargs="*")
        if name == "check-env":
            sub.add_argument("python")
    sub = commands.add_parser("preinstall")
    sub.add_argument("python")
    sub.add_argument("--image", choices=sorted(FREEZES), default="cpu")
    sub.add_argument("packages", nargs="*")
    sub = commands.add_parser("install-unchanged")
    sub.add_argument("python")
    sub.add_argument("pip_args", nargs=argparse.REMAINDER)
    commands.add_parser("refresh").add_argument("git_dir", type=Path)
    args = parser.parse_args(argv)

    if args.command == "constraints":
        sys.stdout.write(constraints(args.image))
        return 0
    if args.command == "would-change":
        requirements = args.requirements or project_requirements()
        changes, added = would_change(requirements, args.image)
        print(
            f"pip install {' '.join(requirements)} on Colab's {args.image} image (Python {python_version()}):"
        )
        print("  adds: " + (", ".join(added) or "nothing"))
        print("  changes: " + (", ".join(map(str, changes)) or "no preinstalled package"))
        return 1 if changes else 0
    if args.command == "check-env":
        off = off_colab_versions(args.python, args.image)
        for change in off:
            print(f"not Colab's version: {change.name} {change.after} (Colab: {change.before})")
        return 1 if off else 0
    if args.command == "preinstall":
        preinstall(args.python, args.packages, args.image)
        return 0
    if args.command == "install-unchanged":
        pip_args = args.pip_args[1:] if args.pip_args[:1] == ["--"] else args.pip_args
        changed = install_unchanged(args.python, pip_args)
        for change in changed:
            print(f"installing changed a package that was there: {change}")
        return 1 if changed else 0
    refresh(args.git_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
