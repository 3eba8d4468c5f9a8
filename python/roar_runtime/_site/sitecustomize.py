"""roar's sitecustomize: installed at the top of ``<bin>/roar-python`` (on ``PYTHONPATH`` under
``roar run``). Chains to the user's own ``sitecustomize`` and, with ``ROAR_WRAP=1``, activates
``roar_runtime``. Must never break interpreter start-up."""

import os as _os
import sys as _sys


def _roar_start() -> None:
    here = _os.path.dirname(_os.path.abspath(__file__))
    try:
        from roar_runtime import boot
    except Exception as exc:  # roar_runtime missing next to us: run as if roar were absent
        if _os.environ.get("ROAR_DEBUG"):
            _sys.stderr.write(f"roar: roar_runtime unavailable: {exc!r}\n")
        return
    boot.chain_user_sitecustomize(here)
    try:
        boot.activate()
    except Exception as exc:
        if _os.environ.get("ROAR_DEBUG"):
            _sys.stderr.write(f"roar: activation failed: {exc!r}\n")


_roar_start()
del _roar_start
