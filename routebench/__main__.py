"""``python -m routebench ...``: the same command line as the ``routebench`` script."""

from routebench.cli import main

if __name__ == "__main__":
    main()
