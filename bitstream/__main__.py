"""``python -m bitstream [--docs FILE]``: print the spec's field tables, or refresh them in FILE.

``docs/bitstream.md`` embeds the tables between two marker lines; ``--docs docs/bitstream.md``
rewrites that block from :mod:`bitstream.layout` (a test fails while the two differ).
"""

import sys
from pathlib import Path

from bitstream.layout import spec_tables

BEGIN = "<!-- BEGIN FIELD TABLES (python -m bitstream) -->\n"
END = "<!-- END FIELD TABLES -->"

if len(sys.argv) == 3 and sys.argv[1] == "--docs":
    path = Path(sys.argv[2])
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(head + BEGIN + spec_tables() + END + tail, encoding="utf-8")
else:
    print(spec_tables(), end="")
