"""Print the README tables of datasets.py: what load_manifest finds in each source, duplicates, and split sizes."""

import time
import warnings

from landmark_asl.data.datasets import find_duplicates, load_landmark_csv, load_manifest
from landmark_asl.data.splits import make_cross_dataset_split, make_split

print("| source | dataset | classes | samples | groups | split values | rejected | load s |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for s in ["asl2text", "massey", "asl_alphabet_64", "asl_alphabet_200_official_test", "sign_mnist_style_28", "sign_mnist_rows"]:
    t = time.perf_counter()
    m, r = load_manifest(s)
    dt = time.perf_counter() - t
    print(f"| `{s}` | {', '.join(sorted(m.dataset.unique()))} | {m.label.nunique()} | {len(m)} | {', '.join(f'`{g}`' for g in sorted(m.group.unique()))} | {', '.join(repr(x) for x in sorted(m.split.unique()))} | {len(r)} | {dt:.2f} |")
for s in ["landmarks/borisgraudt_raw_gestures.csv", "landmarks/nejohnson2_wrist_relative.csv"]:
    t = time.perf_counter()
    m = load_landmark_csv(s)
    dt = time.perf_counter() - t
    print(f"| `{s}` | {m.dataset[0]} | {m.label.nunique()} | {len(m)} | `{m.group[0]}` | '' | 0 | {dt:.2f} |")
m, _ = load_manifest(["asl_alphabet_64", "asl_alphabet_200_official_test", "sign_mnist_rows"])
d = find_duplicates(m)
print("duplicates:", len(d), "rows,", d.sample_id.nunique(), "ids; by dataset", d.groupby("dataset").size().to_dict())
warnings.simplefilter("ignore")
massey, _ = load_manifest("massey")
for name, s in [("massey random", make_split(massey)), ("massey leave-one-signer-out (hand5)", make_split(massey, "group", test_groups=["massey/hand5"])),
                ("massey group (drawn)", make_split(massey, "group"))]:
    c = s.attrs["counts"]
    print(f"| {name} | {c['train']} | {c['test']} | test groups {s.attrs.get('test_groups', '-')} |")
a2t, _ = load_manifest("asl2text")
s = make_split(a2t, "group", test_groups=["asl2text/test"])
c = s.attrs["counts"]
print(f"| asl2text session split | {c['train']} | {c['test']} | train session vs desk-background session |")
for tr, te in [("asl2text/train", "massey"), ("asl_alphabet_64/train", "asl_alphabet_64/official_test"), ("asl_alphabet_64/train", "asl2text/test")]:
    s, kept, dropped = make_cross_dataset_split(load_manifest(tr)[0], load_manifest(te)[0])
    c = s.attrs["counts"]
    print(f"| {tr} → {te} | {c['train']} | {c['test']} | {len(kept)} classes kept, dropped {dropped}, {s.attrs['n_test_removed_as_in_train']} test copies of training files removed |")
