"""The wasi:cli/command entry point: componentize-py exports Run.run as
wasi:cli/run, which calls the function's main() and reports its exit code
with wasi:cli/exit's exit-with-code (WASI 0.2.12), so that 2 stays 2.

An uncaught exception is left alone: componentize-py prints its traceback
on stderr and the run fails (a non-zero exit).
"""
import sys

from wit_world import exports
from wit_world.imports import exit as wasi_exit

import function


class Run(exports.Run):
    def run(self) -> None:
        try:
            code = function.main()
        except SystemExit as stop:  # sys.exit() inside the function
            code = stop.code
            if code is not None and not isinstance(code, int):
                print(code, file=sys.stderr)
                code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        if code is not None and code & 0xFF:  # as a process's exit status
            wasi_exit.exit_with_code(code & 0xFF)
