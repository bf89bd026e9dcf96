"""`rasa` as the Makefile starts it: the same command, without the libraries' deprecation
warnings from the very first import on (components.shared.quiet_warnings says why).

`python -m scripts.rasa_cli shell ...` takes exactly `rasa shell ...`'s arguments.
"""
import sys

from components.shared.quiet_warnings import hide_library_deprecations

if __name__ == "__main__":
    hide_library_deprecations()
    from rasa.__main__ import main

    sys.exit(main())
