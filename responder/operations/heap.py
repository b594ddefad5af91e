"""What a process built at start-up is kept out of the garbage collector's full passes.

The app, its playbooks, the SDKs and their modules are a few hundred thousand
objects that live as long as the process. Without this, every few requests a
full collection walks all of them: on an opening, about 90 ms of the request,
one request in three (README, "Performance"). ``gc.freeze()`` moves what
exists now to a generation the collector never scans; what requests create is
collected as before.
"""

from __future__ import annotations

import gc


def freeze_start_up_objects() -> None:
    """Collect once, then keep everything that survived out of later collections. Call once, after start-up."""
    gc.collect()
    gc.freeze()
