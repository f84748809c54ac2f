"""The one exception every user-facing error derives from."""

from __future__ import annotations


class CapplanError(Exception):
    """A problem the user can fix: bad input file, bad argument, bad API answer.

    The message is one line that names the file or field and what is allowed;
    the CLI prints it and exits with code 2.
    """
