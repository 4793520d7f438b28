"""Build the QGIS plugin zip: debrismap as QGIS Processing algorithms (QGIS 3.22 or newer).

Install it in QGIS with Plugins > Manage and Install Plugins > Install from ZIP. The Processing
toolbox then has a "debrismap" provider with Detect debris piles, Density heatmap, Compare two
runs (and Timeline of piles, where this debrismap has the timeline verb); each runs this
`debrismap` command and loads its results into the project, styled. QGIS finds the command on
PATH; otherwise set its full path (printed below) in Settings > Options > Processing >
Providers > debrismap.

example:
  debrismap qgis-plugin --out debrismap_qgis.zip
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "build the QGIS plugin zip (Processing algorithms that run debrismap inside QGIS)"
PLUGIN_NAME = "debrismap_qgis"
# Files that are built, not sources: never shipped.
SKIPPED_PARTS = {"__pycache__"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path(f"{PLUGIN_NAME}.zip"),
                        help=f"zip file to write (default: {PLUGIN_NAME}.zip)")


def plugin_source() -> Path:
    """The plugin folder: package data in an install, qgis/ in a source checkout."""
    from importlib.resources import files

    from debrismap.errors import DatasetError

    candidates = [Path(str(files("debrismap") / "qgis_plugin" / PLUGIN_NAME)),
                  # src/debrismap/commands/qgis_plugin.py -> parents[3] is the checkout's root
                  Path(__file__).resolve().parents[3] / "qgis" / PLUGIN_NAME]
    for folder in candidates:
        if (folder / "metadata.txt").is_file():
            return folder
    raise DatasetError("the QGIS plugin files are missing from this install (reinstall debrismap)",
                       path=candidates[0])


def plugin_files(source: Path) -> list[Path]:
    return sorted(p for p in source.rglob("*") if p.is_file()
                  and not SKIPPED_PARTS & set(p.relative_to(source).parts) and p.suffix not in SKIPPED_SUFFIXES)


def stamped_metadata(text: str, version: str) -> str:
    """metadata.txt with the plugin's version set to this debrismap's: they are released together."""
    lines = [f"version={version}" if line.startswith("version=") else line for line in text.splitlines()]
    return "\n".join(lines) + "\n"


def write_zip(out: Path, source: Path, version: str) -> int:
    """Write the zip atomically (temp file + rename); returns the number of files in it."""
    import zipfile

    from debrismap.atomic import atomic_target

    files = plugin_files(source)
    with atomic_target(out) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            name = f"{PLUGIN_NAME}/{path.relative_to(source).as_posix()}"
            if path.name == "metadata.txt" and path.parent == source:
                archive.writestr(name, stamped_metadata(path.read_text(encoding="utf-8"), version))
            else:
                archive.write(path, name)
    return len(files)


def this_command() -> str:
    """The full path of this `debrismap` command, for QGIS's provider setting."""
    import shutil
    import sys

    found = shutil.which("debrismap")
    if found:
        return str(Path(found).resolve())
    script = Path(sys.argv[0])
    return str(script.resolve()) if script.name == "debrismap" else "debrismap"


def run(args: argparse.Namespace) -> int:
    from debrismap import __version__
    from debrismap.errors import ConfigError

    if args.out.suffix.lower() != ".zip":
        raise ConfigError(f"--out must end in .zip (QGIS installs plugins from a zip), got {args.out}")
    count = write_zip(args.out, plugin_source(), __version__)
    print(f"wrote {args.out} ({count} files, plugin version {__version__})")
    print("in QGIS: Plugins > Manage and Install Plugins > Install from ZIP, then Processing > Toolbox > debrismap")
    print(f"if QGIS does not find debrismap on its PATH, set Settings > Options > Processing > Providers > "
          f"debrismap > debrismap command to: {this_command()}")
    return 0
