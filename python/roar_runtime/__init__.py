"""roar's in-process runtime for Python: the driver and Ray worker side of roar's lineage capture.

Activated by ``sitecustomize`` when ``ROAR_WRAP=1`` (set by ``roar run``). Standard library only;
``ray`` is never imported by this package before the user's program imports it.

- :mod:`roar_runtime.spool`   attribution tags and ``E`` records (preload library or own file)
- :mod:`roar_runtime.boot`    sitecustomize entry: chains the user's sitecustomize, import hook
- :mod:`roar_runtime.driver`  ``ray.init``/``ray.shutdown`` patches, ``runtime_env`` merge
- :mod:`roar_runtime.worker`  the worker setup hook and task boundaries
"""

__version__ = "0.1.0"
