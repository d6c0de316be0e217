"""``python -m zarrscribe``: the command line.

Installed as ``zarrscribe/__main__.py`` (pyproject.toml maps the ``zarrscribe``
namespace's own modules here); the folder's name is not a Python identifier, so it
is never a package of its own.
"""

from zarrscribe.pipeline.cli import console

console()
