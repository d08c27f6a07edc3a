"""The one-folder bundle's program: `cw-desktop` opens the editor, `cw-desktop SUBCOMMAND` runs the CLI.

The same program serves both, so the editor starts its trainer as `<bundle>/cw-desktop train ...`
(workers/training_process.cli_prefix).
"""

import multiprocessing
import sys

from cw_desktop.app import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a child started by multiprocessing must not open the editor
    sys.exit(main())
