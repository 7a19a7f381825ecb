"""``python -m mvhinerv``: the ``mvcodec`` command where the package is not installed (e.g. a GPU
machine that runs a checkout with ``PYTHONPATH``)."""

from mvhinerv.cli import main

if __name__ == "__main__":
    main(prog_name="mvcodec")
