"""Check a derivation as it is written: a Markdown or LaTeX writeup in, a verdict per equation
out. See docs/writeups.md for the math language, and :func:`check_writeup`."""

from autograd_lite.errors import WriteupError
from autograd_lite.writeup.check import check_writeup
from autograd_lite.writeup.judging import WriteupCheck, WriteupReport

__all__ = ["WriteupCheck", "WriteupError", "WriteupReport", "check_writeup"]
