"""cw_desktop: a local creative-writing assistant."""

import os

# OpenMP threads that spin while they wait for work fight each other, the editor's GUI thread and
# any other busy program for the cores: on a loaded 2-core machine a decoding step then takes 3-5x
# longer (docs/benchmarks.md, "Thread wait policy"). Sleeping waits cost next to nothing when the
# machine is idle. libgomp reads this once, when torch is first imported, so it is set here, before
# any torch import; a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Nothing touches the network unless the writer asks for a download: the hub libraries are put in
# offline mode before any of them is imported (cw_desktop/core/offline.py lifts it for downloads).
from cw_desktop.core.offline import go_offline  # noqa: E402

go_offline()

__version__ = "0.1.0"
APP_NAME = "cw_desktop"
APP_AUTHOR = "cw_desktop"
