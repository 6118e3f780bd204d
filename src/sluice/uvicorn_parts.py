"""uvicorn's server without its command line.

`import uvicorn` runs uvicorn/__init__.py, which imports uvicorn.main: uvicorn's click command line
and its process supervisors (multiprocessing, tempfile, shutil...), about a tenth of `sluice up`'s
start, for parts Sluice never uses (it builds a Config and runs a Server itself).

`enter_package` puts the uvicorn package in place without running that file: its submodules
import as usual (uvicorn.config, uvicorn.server, the protocols), and the package holds Config and
Server, which uvicorn's own modules take from it. The first time anything asks the package for a
name it does not hold yet (`uvicorn.run`, `uvicorn.__version__`, `from uvicorn import main`),
uvicorn/__init__.py runs then, in the same module object: code that uses uvicorn's package itself
later in the process (the in-process test server, a user's script) sees the whole package.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any


def enter_package() -> None:
    """Call before anything imports uvicorn; if something has, this leaves it as it is."""
    if "uvicorn" in sys.modules:
        return
    spec = importlib.util.find_spec("uvicorn")
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return  # not an installed package as we know it: `import uvicorn` does the usual
    package = importlib.util.module_from_spec(spec)
    package.__getattr__ = _complete_on_first_miss(package)  # type: ignore[method-assign]
    sys.modules["uvicorn"] = package
    try:
        from uvicorn.config import Config
        from uvicorn.server import Server
    except Exception:  # noqa: BLE001 - a uvicorn laid out otherwise: whatever it raised
        # Not the uvicorn this was written against (its modules may want more of the package
        # than Config and Server): forget every part imported here and let `import uvicorn` do
        # the usual, whole import. A shortcut must never be why `sluice up` fails.
        for name in [n for n in sys.modules if n == "uvicorn" or n.startswith("uvicorn.")]:
            del sys.modules[name]
        return
    package.Config = Config  # type: ignore[attr-defined]
    package.Server = Server  # type: ignore[attr-defined]


def _complete_on_first_miss(package: ModuleType) -> Callable[[str], Any]:
    lock = threading.RLock()  # uvicorn's own modules may ask the package while it runs
    state = {"complete": False}

    def __getattr__(name: str) -> Any:  # noqa: N807 - a module's __getattr__ (PEP 562)
        with lock:
            if not state["complete"]:
                state["complete"] = True
                spec = package.__spec__
                assert spec is not None and spec.loader is not None
                spec.loader.exec_module(package)  # uvicorn/__init__.py, in this module object
        try:
            return package.__dict__[name]
        except KeyError:
            raise AttributeError(f"module 'uvicorn' has no attribute {name!r}") from None

    return __getattr__
