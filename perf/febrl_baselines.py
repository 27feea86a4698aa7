#!/usr/bin/env python3
"""Scores Splink and recordlinkage's ECM on the FEBRL sets (B19 baselines).

    python3 perf/febrl_baselines.py DIR

DIR is the folder `perf/febrl.py` wrote. Needs `pip install splink
recordlinkage`. Prints, per data set and tool, one line in the format of
`cargo run --release --example linkage_eval -- DIR`:

    tool=splink dataset=febrl3 precision=0.998 recall=0.990 f1=0.994 match_s=2.100

Both tools fit without labels (the true links only score the result) and
classify at a match probability of 0.5. `match_s` counts blocking,
comparing, fitting and classifying in the process, after the CSV files
are read, as the crate's example does.
"""

import csv
import os
import sys
import time

import pandas as pd

COLUMNS = [
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
]


def read(path):
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for c in COLUMNS:
        df[c] = df[c].str.strip().str.lower().replace("", None)
    return df


def read_links(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        next(r)
        return {(a, b) for a, b in r}


def score(tool, name, found, truth, secs, extra=""):
    hits = len(found & truth)
    p = hits / len(found) if found else 0.0
    r = hits / len(truth) if truth else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    print(
        f"tool={tool} dataset={name} precision={p:.3f} recall={r:.3f} f1={f1:.3f} match_s={secs:.3f}{extra}",
        flush=True,
    )


def splink_run(name, frames, truth, dedup):
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    start = time.perf_counter()
    settings = SettingsCreator(
        link_type="dedupe_only" if dedup else "link_only",
        unique_id_column_name="rec_id",
        blocking_rules_to_generate_predictions=[
            block_on("soc_sec_id"),
            block_on("date_of_birth"),
            block_on("substr(surname, 1, 3)", "substr(given_name, 1, 1)"),
            block_on("postcode", "substr(surname, 1, 1)"),
            block_on("substr(given_name, 1, 3)", "postcode"),
            block_on("suburb", "substr(given_name, 1, 1)"),
        ],
        comparisons=[
            cl.JaroWinklerAtThresholds("given_name", [0.92, 0.88]),
            cl.JaroWinklerAtThresholds("surname", [0.92, 0.88]),
            cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("address_1", [0.92, 0.88]),
            cl.JaroWinklerAtThresholds("address_2", [0.92, 0.88]),
            cl.JaroWinklerAtThresholds("suburb", [0.92, 0.88]),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]),
            cl.ExactMatch("state"),
            cl.DamerauLevenshteinAtThresholds("date_of_birth", [1, 2]),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db = DuckDBAPI()
    tables = [db.register(f) for f in frames]
    linker = Linker(tables if len(tables) > 1 else tables[0], settings, log_level="WARNING")
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    for rule in [block_on("date_of_birth"), block_on("substr(surname, 1, 3)", "substr(given_name, 1, 1)")]:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    trained = time.perf_counter()
    pred = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    secs = time.perf_counter() - start
    found = set()
    for a, b in zip(pred["rec_id_l"], pred["rec_id_r"]):
        if dedup and b < a:
            a, b = b, a
        found.add((a, b))
    score("splink", name, found, truth, secs, f" train_s={trained - start:.3f} predict_s={secs - (trained - start):.3f}")


def ecm_run(name, frames, truth, dedup):
    import recordlinkage as rl

    a = frames[0].set_index("rec_id")
    b = a if dedup else frames[1].set_index("rec_id")
    start = time.perf_counter()
    ix = rl.Index()
    ix.block("soc_sec_id")
    ix.block("date_of_birth")
    pairs = ix.index(a) if dedup else ix.index(a, b)
    cmp = rl.Compare()
    for c in COLUMNS:
        cmp.exact(c, c, label=c)
    features = cmp.compute(pairs, a) if dedup else cmp.compute(pairs, a, b)
    model = rl.ECMClassifier(binarize=None)
    matches = model.fit_predict(features)
    secs = time.perf_counter() - start
    found = set()
    for x, y in matches:
        if dedup and y < x:
            x, y = y, x
        found.add((x, y))
    score("recordlinkage_ecm", name, found, truth, secs)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    sets = [
        ("febrl3", [read(os.path.join(d, "febrl3.csv"))], read_links(os.path.join(d, "febrl3_links.csv")), True),
        (
            "febrl4",
            [read(os.path.join(d, "febrl4a.csv")), read(os.path.join(d, "febrl4b.csv"))],
            read_links(os.path.join(d, "febrl4_links.csv")),
            False,
        ),
    ]
    for name, frames, truth, dedup in sets:
        splink_run(name, frames, truth, dedup)
        ecm_run(name, frames, truth, dedup)


if __name__ == "__main__":
    main()
