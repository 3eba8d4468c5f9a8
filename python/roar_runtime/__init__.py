"""roar's in-process runtime for Python: the driver and Ray worker side of roar's lineage capture.

Activated by ``sitecustomize`` when ``ROAR_WRAP=1`` (set by ``roar run``). Standard library only;
``ray`` is never imported by this package before the user's program imports it.

- :mod:`roar_runtime.config`  what ``roar run`` told this process through its environment
- :mod:`roar_runtime.spool`   attribution tags and ``E`` records (preload library or own file)
- :mod:`roar_runtime.boot`    sitecustomize entry: chains the user's sitecustomize, import hook
- :mod:`roar_runtime.driver`  ``ray.init``/``ray.shutdown`` patches, ``runtime_env`` merge
- :mod:`roar_runtime.driver_main` ``python -m roar_runtime.driver -- …``: a host-submitted entrypoint
- :mod:`roar_runtime.worker`  the worker setup hook: installs the pieces below in a Ray worker
- :mod:`roar_runtime.frames`  task frames: the attribution tag, ``task_begin``/``task_end``
- :mod:`roar_runtime.wrappers` the task wrapper (transparent for every kind of remote function)
- :mod:`roar_runtime.submission` ``task_submit``: parent links recorded by the parent
- :mod:`roar_runtime.ray_compat` every private Ray name roar uses, and what reports a missing one
- :mod:`roar_runtime.cluster` host-submit, cluster side: node agents and the collector
- :mod:`roar_runtime.drain`   host-submit, host side: fetch a run's batches
"""

__version__ = "0.1.0"
