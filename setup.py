"""Maps the design card's top-level folders onto one import package.

pyproject.toml cannot list subpackages of a package-dir mapping without naming
each one by hand, so they are found here from the __init__.py files.
"""

from pathlib import Path

from setuptools import setup

PACKAGE_DIRS = {
    "edgefabric": "core",
    "edgefabric.tui": "tui",
    "edgefabric.app": "app",
    "edgefabric.cli": "cli",
    "edgefabric.pipeline": "pipeline",
    "edgefabric.export": "export",
    "edgefabric.runtime": "runtime",
}
DATA_SUFFIXES = ("py.typed", "*.yaml", "*.json", "*.jinja", "*.tmpl", "*.wit", "*.tcss", "*.txt")


def _packages() -> list[str]:
    found = []
    for name, folder in PACKAGE_DIRS.items():
        for init in sorted(Path(folder).rglob("__init__.py")):
            parts = init.parent.relative_to(folder).parts
            found.append(".".join((name, *parts)))
    return found


setup(
    packages=_packages(),
    package_dir=PACKAGE_DIRS,
    package_data={name: list(DATA_SUFFIXES) for name in _packages()},
)
