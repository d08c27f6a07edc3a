"""The one-folder bundle's program: `cw-desktop` opens the editor, `cw-desktop SUBCOMMAND` runs the CLI.

The app starts helper processes as `sys.executable -m MODULE ...` (the trainer: `-m cw_desktop
train ...`, the model's process: `-m cw_desktop.workers.inference_child`). In the bundle
sys.executable is this program, not a Python interpreter, so it answers `-m MODULE ARGS...` the way
`python -m` would: nothing in the app needs to know it is frozen.
"""

import multiprocessing
import runpy
import sys


def run(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "-m":
        sys.argv = [sys.argv[0], *argv[2:]]  # run_module puts the module's path in argv[0]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)  # exits through SystemExit, if at all
        return 0
    from cw_desktop.app import main

    return main(argv)


if __name__ == "__main__":
    multiprocessing.freeze_support()  # a child started by multiprocessing must not open the editor
    sys.exit(run(sys.argv[1:]))
