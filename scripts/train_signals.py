"""Ctrl-C (SIGINT) and SIGTERM for scripts/train_mnist.py: stop between two training steps, never in the middle.

Before training starts a signal stops the script at once (there is nothing to lose). While it
trains, the first signal only asks the loop to stop: the loop finishes its step (and any save in
progress, which stays whole), then ends the run with exit code 128 + the signal number (130 for
SIGINT, 143 for SIGTERM), as a shell reports a process killed by that signal. A second signal
stops the process at once (the saves are atomic, so no checkpoint is left half-written).
"""
import os
import signal
import sys

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    """The run was stopped by ``signum``; its exit code is 128 + signum."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


class StopRequests:
    """Installs the handlers (``with StopRequests() as stop:``) and remembers the first signal received."""

    def __init__(self):
        self.signum = None
        self.deferred = False  # True while training: a signal waits for the loop to look at it
        self.announce = True  # say that the run is stopping (with several ranks, only the first does)
        self._previous = {}

    def __enter__(self):
        for signum in SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum, frame):
        if self.signum is not None:  # the second signal: the user insists
            print(f"\n{signal.Signals(signum).name} again: stopping now", file=sys.stderr, flush=True)
            os._exit(128 + signum)
        self.signum = signum
        if not self.deferred:
            raise Interrupted(signum)
        if self.announce:
            print(f"\n{signal.Signals(signum).name}: stopping after this step (send it again to stop at once)",
                  file=sys.stderr, flush=True)

    def check(self):
        """Raise Interrupted if a signal has come (the loop calls this between steps)."""
        if self.signum is not None:
            raise Interrupted(self.signum)
