"""``python -m moohw.cli``: the same command line as the ``moohw`` console script."""

from moohw.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
