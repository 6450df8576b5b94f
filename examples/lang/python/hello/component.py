"""The wasi:cli/command entry point: componentize-py exports Run.run as
wasi:cli/run, which calls the function's main() and reports its exit code
with wasi:cli/exit's exit-with-code (WASI 0.2.12), so that 2 stays 2.

sys.exit() and an uncaught exception end the run as they end `python3
function.py` in the container: sys.exit(n) exits with n, an exception
prints its traceback on stderr and exits with 1.
"""
import sys
import traceback

from wit_world import exports
from wit_world.imports import exit as wasi_exit

import function


class Run(exports.Run):
    def run(self) -> None:
        try:
            code = function.main()
        except SystemExit as stop:
            code = stop.code
            if code is not None and not isinstance(code, int):
                print(code, file=sys.stderr)
                code = 1
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        if code is not None and code & 0xFF:  # as a process's exit status
            wasi_exit.exit_with_code(code & 0xFF)
