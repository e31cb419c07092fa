"""``python -m {{ cookiecutter.package_name }} serve``: see :mod:`.launcher`."""

import sys

from .launcher import main

if __name__ == "__main__":  # not when a worker process (spawned) imports this module again
    sys.exit(main(sys.argv[1:]))
