"""Tests of the `train`, `compare` and `predict` commands on small real data (3 letters x a few asl2text images)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from landmark_asl._util import file_sha256
from landmark_asl.cli import main
from landmark_asl.data.splits import read_split

LETTERS = ("A", "B", "L")


def _copy_letters(src: Path, dst: Path, letters: tuple[str, ...], per_class: int, offset: int = 0) -> Path:
    for letter in letters:
        files = sorted((src / letter).glob("*.jpg"), key=lambda p: int(p.stem[len(letter):]))[offset::7][:per_class]
        (dst / letter).mkdir(parents=True)
        for f in files:
            shutil.copy(f, dst / letter / f.name)
    return dst


@pytest.fixture(scope="module")
def small(tmp_path_factory, data_dir) -> dict[str, Path]:
    """Tiny real datasets outside the repo: asl2text train (A, B, L x 6) and test (A, B, L x 3; A, B, Y x 3)."""
    root = tmp_path_factory.mktemp("small")
    return {
        "train": _copy_letters(data_dir / "asl2text" / "train", root / "train", LETTERS, 6),
        "test": _copy_letters(data_dir / "asl2text" / "test", root / "test", LETTERS, 3),
        "other": _copy_letters(data_dir / "asl2text" / "test", root / "other", ("A", "B", "Y"), 3),
        "cache": root / "cache",
    }


@pytest.fixture(scope="module")
def trained_model(small, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "rf"
    result = CliRunner(mix_stderr=False).invoke(
        main, ["train", str(small["train"]), "--model-name", "rf", "-o", str(out), "--cache-dir", str(small["cache"]),
               "--param", "n_estimators=20"]
    )
    assert result.exit_code == 0, result.stderr
    return out


@pytest.mark.slow
def test_compare_cross_dataset_writes_report_and_scores_cnn_on_same_images(small, tmp_path):
    out = tmp_path / "report"
    result = CliRunner(mix_stderr=False).invoke(main, [
        "compare", "--train", str(small["train"]), "--test", str(small["test"]), "--models", "rf,cnn",
        "-o", str(out), "--cache-dir", str(small["cache"]),
    ])
    assert result.exit_code == 0, result.stderr
    for name in ("report.md", "report.json", "confusion_rf.png", "confusion_cnn.png", "split.csv"):
        assert (out / name).is_file(), name
    report = json.loads((out / "report.json").read_text())
    meta = report["metadata"]
    assert meta["split_mode"] == "cross-dataset"
    assert meta["classes"] == list(LETTERS)
    assert meta["split_file_sha256"] == file_sha256(out / "split.csv")
    split = read_split(out / "split.csv")
    assert (split["split"] == "test").sum() == 9 == meta["n_test"]
    for name in ("rf", "cnn"):
        assert report["models"][name]["n_test"] == 9  # the CNN is scored on exactly the same test images
        assert report["models"][name]["size_mb"] > 0
    assert report["models"]["cnn"]["coverage"] == 1.0
    rf = report["models"]["rf"]
    assert rf["accuracy_all"] <= rf["coverage"] + 1e-9  # no hand = wrong (no NOTHING class here)
    assert "rf" in result.stdout and "acc. detected" in result.stdout


@pytest.mark.slow
def test_compare_intersects_labels_of_train_and_test(small, tmp_path):
    out = tmp_path / "report"
    result = CliRunner(mix_stderr=False).invoke(main, [
        "compare", "--train", str(small["train"]), "--test", str(small["other"]), "--models", "rf",
        "-o", str(out), "--cache-dir", str(small["cache"]), "--json",
    ])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["metadata"]["classes"] == ["A", "B"]
    assert report["metadata"]["dropped_labels"] == ["L", "Y"]
    assert report["models"]["rf"]["n_test"] == 6


@pytest.mark.slow
def test_random_split_is_reproducible_and_read_by_every_model(small, tmp_path):
    args = ["compare", "--train", str(small["train"]), "--split", "random", "--test-size", "0.5",
            "--models", "rf,xgb", "--cache-dir", str(small["cache"])]
    runner = CliRunner(mix_stderr=False)
    hashes = []
    for name in ("one", "two"):
        result = runner.invoke(main, [*args, "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.stderr
        hashes.append(file_sha256(tmp_path / name / "split.csv"))
    assert hashes[0] == hashes[1]
    report = json.loads((tmp_path / "one" / "report.json").read_text())
    assert report["metadata"]["split_mode"] == "random"
    assert report["models"]["rf"]["n_test"] == report["models"]["xgb"]["n_test"] == 9
    other = runner.invoke(main, [*args, "--random-state", "1", "-o", str(tmp_path / "three")])
    assert other.exit_code == 0, other.stderr
    assert file_sha256(tmp_path / "three" / "split.csv") != hashes[0]


@pytest.mark.slow
def test_compare_prints_the_dropped_labels(small, tmp_path):
    result = CliRunner(mix_stderr=False).invoke(main, [
        "compare", "--train", str(small["train"]), "--test", str(small["other"]), "--models", "rf",
        "-o", str(tmp_path / "r"), "--cache-dir", str(small["cache"]), "--param", "rf.n_estimators=5",
    ])
    assert result.exit_code == 0, result.stderr
    # train holds A, B, L and test A, B, Y: the stdout says what the figures leave out.
    assert "labels dropped (not in both train and test; 2 kept): L Y" in result.stdout.splitlines()


def test_compare_rejects_unknown_model(small, tmp_path):
    result = CliRunner(mix_stderr=False).invoke(main, ["compare", "--train", str(small["train"]), "--models", "rf,svm",
                                       "-o", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "svm" in result.stderr


@pytest.mark.slow
def test_train_writes_model_with_metadata(trained_model, small):
    metadata = json.loads((trained_model / "metadata.json").read_text())
    assert metadata["name"] == "rf"
    assert metadata["classes"] == list(LETTERS)
    assert metadata["training"]["train_sources"] == [str(small["train"])]
    assert metadata["extractor_settings"]["min_detection_confidence"] == 0.5
    assert metadata["metrics"] is None  # no metric computed on training data
    # The shipped recipe by default, --param on top of it; one group: no temperature.
    assert metadata["training"]["params"] == {"n_estimators": 20, "min_samples_leaf": 5, "handshape": True}
    assert metadata["estimator"]["params"]["n_estimators"] == 20
    assert metadata["training"]["balance"] == "dataset"
    assert metadata["training"]["augment"] == {"n_copies": 1, "max_angle": 30.0, "stretch": 0.3, "max_yaw": 180.0,
                                               "yaw_labels": ["G", "H"]}
    assert metadata["calibration"] is None


def test_train_defaults_are_the_shipped_recipe():
    from landmark_asl.model.store import default_model_dir
    from landmark_asl.training.recipe import DEFAULT_RECIPE

    shipped = json.loads((default_model_dir() / "metadata.json").read_text())
    assert shipped["name"] == DEFAULT_RECIPE.model_name
    assert shipped["training"]["params"] == DEFAULT_RECIPE.params
    assert shipped["training"]["balance"] == DEFAULT_RECIPE.balance
    assert shipped["training"]["augment"] == DEFAULT_RECIPE.augment
    assert (shipped["calibration"] is not None) == DEFAULT_RECIPE.calibrate
    assert (shipped.get("pointing") is not None) == DEFAULT_RECIPE.pointing
    assert shipped["recipe"] == DEFAULT_RECIPE.to_dict()


@pytest.mark.slow
def test_train_fits_the_pointing_gate_on_g_and_q_unless_told_not_to(small, tmp_path, data_dir):
    photos = _copy_letters(data_dir / "asl2text" / "train", tmp_path / "gq", ("A", "G", "Q"), 6)
    # The default fits the gate; --no-pointing leaves it out; rows without Q give none, and the card says so.
    for k, (flag, gated) in enumerate((([], True), (["--no-pointing"], False), (["--labels", "A,G"], False))):
        out = tmp_path / f"m{k}"
        result = CliRunner(mix_stderr=False).invoke(main, [
            "train", str(photos), "--model-name", "rf", "-o", str(out), "--cache-dir", str(small["cache"]),
            "--param", "n_estimators=5", *flag])
        assert result.exit_code == 0, result.stderr
        meta = json.loads((out / "metadata.json").read_text())
        assert meta["recipe"]["pointing"] is gated
        if gated:  # asl2text's G points level, its Q about 60 degrees down
            gate = meta["pointing"][0]  # (no K or P in these rows: the G/Q gate alone)
            assert len(meta["pointing"]) == 1 and gate["letters"] == ["G", "Q"] and 10 < gate["boundary_degrees"] < 50
        else:
            assert meta["pointing"] is None


def test_train_unknown_param_is_one_line_error(small, tmp_path):
    result = CliRunner(mix_stderr=False).invoke(main, [
        "train", str(small["train"]), "--model-name", "rf", "-o", str(tmp_path / "m"),
        "--cache-dir", str(small["cache"]), "--param", "n_trees=5",
    ])
    assert result.exit_code == 1
    assert "n_trees" in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_predict_json_lines(trained_model, small):
    images = sorted((small["test"] / "A").glob("*.jpg"))[:2]
    result = CliRunner(mix_stderr=False).invoke(
        main, ["predict", "--model", str(trained_model), *map(str, images), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    for line, image in zip(lines, images):
        record = json.loads(line)
        assert record["path"] == str(image)
        assert isinstance(record["detected"], bool)
        assert record["label"] in LETTERS or (record["label"] == "" and not record["detected"])
        assert 0.0 <= record["confidence"] <= 1.0


@pytest.mark.slow
def test_predict_folder_plain_output(trained_model, small):
    result = CliRunner(mix_stderr=False).invoke(main, ["predict", "--model", str(trained_model), str(small["test"] / "L")])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4 and all(line.split("\t")[1] in LETTERS for line in lines[:3])
    right = sum(line.split("\t")[1] == "L" for line in lines[:3])  # the folder is named L: it is scored
    assert lines[3].startswith(f"accuracy {100 * right / 3:.1f}% ({right} of 3 images in label folders; hand found in")


@pytest.mark.slow
def test_predict_labels_and_min_confidence(trained_model, small):
    images = [str(p) for p in sorted((small["test"] / "L").glob("*.jpg"))]
    run = CliRunner(mix_stderr=False).invoke
    only_ab = run(main, ["predict", "--model", str(trained_model), *images, "--json", "--labels", "a,B"])
    assert only_ab.exit_code == 0, only_ab.stderr
    records = [json.loads(line) for line in only_ab.stdout.splitlines()]
    assert {r["label"] for r in records} <= {"A", "B"} and all(r["detected"] for r in records)
    assert "accuracy" not in only_ab.stderr  # L cannot be answered with --labels A,B: nothing is scored
    with_l = run(main, ["predict", "--model", str(trained_model), *images, "--json", "--labels", "a,B,l"])
    assert with_l.stderr.startswith("accuracy ") and "of 3 images" in with_l.stderr  # --json: the summary on stderr
    unsure = run(main, ["predict", "--model", str(trained_model), *images, "--json", "--min-confidence", "1"])
    for record in map(json.loads, unsure.stdout.splitlines()):
        assert record["label"] == ("unknown" if record["confidence"] < 1 else record["top_k"][0][0])
    plain = run(main, ["predict", "--model", str(trained_model), *images, "--min-confidence", "0.999999"])
    for line in plain.stdout.splitlines()[:3]:  # an 'unknown' never shows a confidence at or above the bar
        _, label, shown = line.split("\t")
        assert label != "unknown" or float(shown) < 0.999999
    bad = run(main, ["predict", "--model", str(trained_model), *images, "--labels", "A,Q"])
    assert bad.exit_code == 1 and bad.stderr.startswith("Error: labels Q are not classes of the 'rf' model")


def test_a_shown_confidence_is_rounded_down_to_two_decimals():
    from landmark_asl.cli.commands import _shown

    assert [_shown(c) for c in (0.99994, 1.0, 0.5, 0.129, 0.29, 0.0)] == ["0.99", "1.00", "0.50", "0.12", "0.29", "0.00"]
    assert _shown(float("nan")) == "nan"


@pytest.mark.slow
def test_evaluate_scores_a_labelled_folder(trained_model, small, tmp_path):
    out = tmp_path / "eval"
    result = CliRunner(mix_stderr=False).invoke(main, ["evaluate", "--model", str(trained_model), str(small["other"]),
                                                       "-o", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["dropped"] == {"Y": 3}  # the model knows A, B, L: Y images cannot be answered
    assert report["n_test"] == 6 and set(report["per_class"]) == {"A", "B"}
    assert report["accuracy_all"] == pytest.approx(
        sum(r["accuracy"] * r["n"] for r in report["per_class"].values()) / 6)
    assert (out / "confusion.png").stat().st_size > 1000
    assert json.loads((out / "evaluation.json").read_text())["accuracy_all"] == report["accuracy_all"]
    plain = CliRunner(mix_stderr=False).invoke(main, ["evaluate", "--model", str(trained_model), str(small["other"])])
    assert plain.exit_code == 0, plain.stderr
    assert "accuracy (all images)" in plain.stdout and "left out (labels the model cannot answer): Y (3)" in plain.stdout
    # An earlier evaluation in --output is kept unless --overwrite says otherwise.
    (out / "evaluation.json").write_text("mine")
    again = CliRunner(mix_stderr=False).invoke(main, ["evaluate", "--model", str(trained_model), str(small["other"]),
                                                      "-o", str(out)])
    assert again.exit_code == 1 and len(again.stderr.splitlines()) == 1, again.stderr
    assert "already holds confusion.png and evaluation.json" in again.stderr and "--overwrite" in again.stderr
    assert (out / "evaluation.json").read_text() == "mine"
    replaced = CliRunner(mix_stderr=False).invoke(main, ["evaluate", "--model", str(trained_model), str(small["other"]),
                                                         "-o", str(out), "--overwrite"])
    assert replaced.exit_code == 0 and json.loads((out / "evaluation.json").read_text())["n_test"] == 6


@pytest.mark.parametrize("command", [["extract", "x", "-o", "t.parquet"], ["train", "x", "-o", "m"],
                                     ["compare", "x", "-o", "r"], ["adapt", "x", "-o", "p"]])
def test_n_jobs_is_a_usage_error_below_minus_one_or_zero(command, tmp_path):
    for bad in ("0", "-3"):
        result = CliRunner(mix_stderr=False).invoke(main, [*command, "--n-jobs", bad])
        assert result.exit_code == 2 and "Traceback" not in result.stderr, result.stderr
        assert f"Invalid value for '--n-jobs': must be >= 1, or -1 for one per core; got {bad}" in result.stderr


def test_a_negative_random_state_is_a_usage_error_before_any_work(tmp_path):
    result = CliRunner(mix_stderr=False).invoke(main, ["train", "x", "-o", str(tmp_path / "m"), "--random-state", "-1"])
    assert result.exit_code == 2 and "Invalid value for '--random-state'" in result.stderr


def test_predict_bad_model_dir_is_one_line_error(tmp_path, small):
    bad = tmp_path / "not_a_model"
    bad.mkdir()
    image = next((small["test"] / "A").glob("*.jpg"))
    result = CliRunner(mix_stderr=False).invoke(main, ["predict", "--model", str(bad), str(image)])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "metadata.json" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_train_metrics_from_bad_report_is_one_line_error(tmp_path, small):
    report = tmp_path / "report.json"
    report.write_text("{}")
    result = CliRunner(mix_stderr=False).invoke(main, [
        "train", str(small["train"]), "--model-name", "rf", "-o", str(tmp_path / "m"),
        "--cache-dir", str(small["cache"]), "--metrics-from", str(report),
    ])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot take 'rf' metrics")
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_predict_uses_shipped_default_model(data_dir):
    image = data_dir / "asl_alphabet_200_official_test" / "L_test.jpg"
    result = CliRunner(mix_stderr=False).invoke(main, ["predict", str(image), "--json"])
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["detected"] is True
    assert record["label"] == "L"


def test_train_calibrate_balance_augment_store_the_recipe_and_a_temperature(small, tmp_path):
    out = tmp_path / "calibrated"
    result = CliRunner(mix_stderr=False).invoke(main, [
        "train", str(small["train"]), str(small["test"]), "--model-name", "rf", "-o", str(out),
        "--cache-dir", str(small["cache"]), "--param", "n_estimators=10", "--param", "handshape=true",
        "--balance", "dataset", "--augment", "n_copies=1", "--augment", "stretch=0.3", "--calibrate",
    ])
    assert result.exit_code == 0, result.stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["calibration"]["method"] == "temperature" and meta["calibration"]["temperature"] > 0
    assert "groups predicted by a model trained without it" in meta["calibration"]["fitted_on"]
    assert meta["training"]["balance"] == "dataset" and meta["training"]["augment"] == {"n_copies": 1, "stretch": 0.3}
    assert meta["estimator"]["normalizer"]["handshape"] is True

    one = CliRunner(mix_stderr=False).invoke(main, [
        "train", str(small["train"]), "--model-name", "rf", "-o", str(tmp_path / "one"),
        "--cache-dir", str(small["cache"]), "--calibrate",
    ])
    assert one.exit_code != 0 and "calibration needs out-of-group predictions" in one.stderr
    assert not (tmp_path / "one").exists()


def test_train_refuses_a_bad_recipe_in_one_line_before_extracting(small, tmp_path):
    for args, message in ((["--augment", "n_copies=99999"], "n_copies must be an integer from 0 to 10"),
                          (["--augment", "angle=3"], "unknown augmentation parameter"),
                          (["--balance", "signer"], "Invalid value for '--balance'")):
        result = CliRunner(mix_stderr=False).invoke(main, [
            "train", str(small["train"]), "--model-name", "rf", "-o", str(tmp_path / "m"),
            "--cache-dir", str(tmp_path / "cache"), *args])
        assert result.exit_code != 0 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and not (tmp_path / "cache").exists()


@pytest.mark.slow
def test_compare_reports_calibration_of_the_calibrated_model_and_a_rejection_curve(small, tmp_path, data_dir):
    out = tmp_path / "report"
    unseen = _copy_letters(data_dir / "asl2text" / "test", tmp_path / "unseen", LETTERS, 3, offset=3)
    result = CliRunner(mix_stderr=False).invoke(main, [
        "compare", "--train", str(small["train"]), "--train", str(small["test"]), "--test", str(unseen),
        "--models", "rf,cnn", "--param", "rf.n_estimators=10", "--calibrate", "--balance", "dataset",
        "--augment", "n_copies=1", "-o", str(out), "--cache-dir", str(small["cache"]),
    ])
    assert result.exit_code == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    rf, cnn = report["models"]["rf"], report["models"]["cnn"]
    assert rf["recipe"] == {"balance": "dataset", "augment": {"n_copies": 1}, "calibrate": True, "pointing": False}
    assert cnn["recipe"] is None and cnn["calibration"]["temperature"] is None  # the CNN trains without the recipe
    assert rf["calibration"]["temperature"] > 0
    for cal in (rf["calibration"], cnn["calibration"]):
        assert 0.0 <= cal["ece"] <= 1.0 and 0.0 <= cal["brier"] <= 2.0
        assert cal["coverage_curve"][0][1] == 1.0  # threshold 0 keeps every answer
    saved = json.loads((out / "models" / "rf" / "metadata.json").read_text())
    assert saved["calibration"]["temperature"] == rf["calibration"]["temperature"]
    assert (out / "rejection.png").stat().st_size > 1000
    text = (out / "report.md").read_text()
    assert "## Calibration" in text and "rejection.png" in text
    assert "ECE" in result.stdout
    one = CliRunner(mix_stderr=False).invoke(main, [
        "compare", "--train", str(small["train"]), "--test", str(unseen), "--models", "rf", "--calibrate",
        "-o", str(tmp_path / "one"), "--cache-dir", str(small["cache"])])
    assert one.exit_code == 1 and "calibration needs out-of-group predictions" in one.stderr


@pytest.mark.slow
def test_compare_lodo_holds_out_each_group(small, tmp_path):
    out = tmp_path / "lodo"
    args = ["compare", "--train", str(small["train"]), "--train", str(small["test"]), "--train", str(small["other"]),
            "--split", "lodo", "--cache-dir", str(small["cache"])]
    result = CliRunner(mix_stderr=False).invoke(main, [*args, "--models", "rf", "--param", "rf.n_estimators=10",
                                                       "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    groups = report["metadata"]["groups"]
    assert len(groups) == 3 and report["metadata"]["split_mode"] == "lodo"
    per_fold = report["models"]["rf"]["summary"]["per_fold"]
    assert [r["fold"] for r in per_fold] == groups
    # "other" holds Y, which no other group has: its model cannot be right on those rows.
    other = next(r for r in per_fold if "other" in r["fold"])
    assert other["accuracy_all"] <= 2 / 3 + 1e-9
    assert "worst fold" in result.stdout and (out / "report.md").is_file()
    for extra, message in ((["--models", "rf,cnn"], "for landmark models"),
                           (["--models", "rf", "--test", str(small["test"])], "give no test sources")):
        bad = CliRunner(mix_stderr=False).invoke(main, [*args, *extra, "-o", str(tmp_path / "bad")])
        assert bad.exit_code == 1 and message in bad.stderr and "Traceback" not in bad.stderr


def test_train_model_records_given_metrics_and_refuses_a_non_dict(small, tmp_path):
    from landmark_asl.exceptions import LandmarkASLError
    from landmark_asl.training.recipe import Recipe
    from landmark_asl.training.train import train_model

    measured = {"lodo": {"mean_accuracy": 0.9, "worst_fold": "b"}}
    out = train_model([small["train"]], output=tmp_path / "m", recipe=Recipe.plain("rf", {"n_estimators": 5}),
                      metrics=measured, progress=False, cache_dir=small["cache"])
    card = json.loads((out / "metadata.json").read_text())
    assert card["metrics"] == measured
    assert "never on these training rows" in card["training"]["metrics_note"]
    with pytest.raises(LandmarkASLError, match="metrics must be a dict"):
        train_model([small["train"]], output=tmp_path / "m2", recipe=Recipe.plain("rf"), metrics=[0.9], progress=False,
                    cache_dir=small["cache"])
    assert not (tmp_path / "m2").exists()


def test_library_messages_name_parameters_and_the_cli_says_its_options(tmp_path, monkeypatch):
    import landmark_asl.live.display as display
    from landmark_asl.exceptions import LandmarkASLError
    from landmark_asl.training.collect import collect

    monkeypatch.setattr(display, "display_available", lambda: False)
    with pytest.raises(LandmarkASLError, match=r"with window=False, or run") as info:
        collect(str(tmp_path), tmp_path / "me.parquet", letters=["A"], window=True, progress=False)
    assert "--" not in str(info.value)
    result = CliRunner(mix_stderr=False).invoke(main, ["collect", "--source", str(tmp_path), "--letters", "A",
                                                       "-o", str(tmp_path / "me.parquet"), "--window"])
    assert result.exit_code == 1 and "with --no-window, or run" in result.stderr, result.stderr


def test_a_parameter_in_a_message_becomes_the_commands_option():
    from landmark_asl.cli.commands import _as_options

    compare, collect, live = (main.get_command(None, name) for name in ("compare", "collect", "live"))
    assert _as_options("pass overwrite=True to replace it", compare) == "pass --overwrite to replace it"
    assert _as_options("set X (or pass cache_dir=) to a folder", compare) == "set X (or pass --cache-dir) to a folder"
    assert _as_options("a folder with window=False, or", collect) == "a folder with --no-window, or"
    assert _as_options("try another index (source=1), or", live) == "try another index (--source 1), or"
    assert _as_options("ExtractorSettings(overwrite=True)", compare) == "ExtractorSettings(overwrite=True)"
    assert _as_options("pass overwrite=True", live) == "pass overwrite=True"  # not an option of live


def test_library_messages_name_no_cli_option():
    import ast

    import landmark_asl

    flags = {opt for command in main.commands.values() for param in command.params
             for opt in (*param.opts, *param.secondary_opts) if opt.startswith("--")}
    root = Path(landmark_asl.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if "cli" in path.relative_to(root).parts:
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                # A whole command line (`landmark-asl serve --personal-dir DIR`, a tools/ script) may name its options.
                if "landmark-asl " in node.value or ".py " in node.value:
                    continue
                named = {word.rstrip(".,;:)`'\"") for word in node.value.split()} & flags
                if named:
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {sorted(named)}")
    assert not found


def test_serve_and_collect_defaults_are_the_library_defaults():
    import dataclasses
    import inspect

    from landmark_asl.serve.app import run_app
    from landmark_asl.serve.settings import ServeSettings
    from landmark_asl.training.settings import CollectSettings

    serve = {p.name: p.default for p in main.get_command(None, "serve").params}
    settings = ServeSettings()
    assert serve["personal_dir"] == settings.personal_dir and serve["cache_dir"] == settings.cache_dir
    assert tuple(serve["allow_hosts"] or ()) == settings.allowed_hosts
    assert serve["recover_every"] == settings.live.recover_every
    for name in ("host", "port"):
        assert serve[name] == inspect.signature(run_app).parameters[name].default, name
    collect = {p.name: p.default for p in main.get_command(None, "collect").params}
    for name, value in dataclasses.asdict(CollectSettings()).items():
        assert collect[name] == value, name


def test_extract_defaults_are_the_extractor_settings():
    from landmark_asl.hands.settings import ExtractorSettings

    extract = {p.name: p.default for p in main.get_command(None, "extract").params}
    settings = ExtractorSettings()
    assert extract["min_detection_confidence"] == settings.min_detection_confidence
    assert extract["recovery"] == settings.recovery


# --- train/adapt --overwrite, --n-jobs of a fit, camera indices, serve's address, evaluate -o -----------


@pytest.fixture()
def tiny_model(tmp_path, synthetic_landmarks) -> Path:
    from landmark_asl.estimators.registry import make_estimator
    from landmark_asl.model.store import save_model

    X, y = synthetic_landmarks
    return save_model(make_estimator("rf", n_estimators=2).fit(X, y), tmp_path / "model", name="rf")


@pytest.fixture()
def fits(monkeypatch) -> list[dict]:
    """Stand-ins for train_model and adapt_model that record their arguments (nothing is fitted)."""
    import landmark_asl.training.adapt as adapt
    import landmark_asl.training.train as training

    calls = []

    def record(sources, **kwargs):
        calls.append(kwargs)
        return kwargs["output"]

    monkeypatch.setattr(training, "train_model", record)
    monkeypatch.setattr(adapt, "adapt_model", record)
    return calls


@pytest.mark.parametrize("command", ["train", "adapt"])
def test_train_and_adapt_replace_a_model_only_with_overwrite_and_say_so_before_any_work(command, tiny_model, fits,
                                                                                       tmp_path):
    before = (tiny_model / "metadata.json").read_bytes()
    for output in (tiny_model, tiny_model / ".." / "model"):
        refused = CliRunner(mix_stderr=False).invoke(main, [command, "x", "-o", str(output)])
        assert refused.exit_code == 1 and len(refused.stderr.splitlines()) == 1, refused.stderr
        assert refused.stderr == (f"Error: {output} already holds a model: pass --overwrite to replace it, "
                                  "or choose another folder\n")
    assert fits == [] and (tiny_model / "metadata.json").read_bytes() == before
    replaced = CliRunner(mix_stderr=False).invoke(main, [command, "x", "-o", str(tiny_model), "--overwrite"])
    assert replaced.exit_code == 0, replaced.stderr
    assert [call["output"] for call in fits] == [tiny_model]
    # A new or empty folder needs no flag; a folder holding anything but a model is refused even with it.
    (tmp_path / "empty").mkdir()
    for output in (tmp_path / "new", tmp_path / "empty"):
        assert CliRunner(mix_stderr=False).invoke(main, [command, "x", "-o", str(output)]).exit_code == 0
    (tmp_path / "empty" / "notes.txt").write_text("mine")
    other = CliRunner(mix_stderr=False).invoke(main, [command, "x", "-o", str(tmp_path / "empty"), "--overwrite"])
    assert other.exit_code == 1 and "not a model directory" in other.stderr
    assert len(fits) == 3 and (tmp_path / "empty" / "notes.txt").read_text() == "mine"


def test_adapt_onto_its_base_is_refused_as_the_base_not_as_an_earlier_model(tiny_model):
    result = CliRunner(mix_stderr=False).invoke(main, ["adapt", "x", "--base", str(tiny_model), "-o", str(tiny_model)])
    assert result.exit_code == 1 and "is the base model itself" in result.stderr, result.stderr


@pytest.mark.slow
def test_train_overwrite_through_the_model_folder_itself_keeps_a_model_in_place(small, tmp_path):
    # -o m/../m onto an existing model: the fit ran, then the save failed and hid the old model as .m.old-XXXX.
    args = ["train", str(small["train"]), "--model-name", "rf", "--cache-dir", str(small["cache"])]
    first = CliRunner(mix_stderr=False).invoke(main, [*args, "-o", str(tmp_path / "m"), "--param", "n_estimators=3"])
    assert first.exit_code == 0, first.stderr
    again = CliRunner(mix_stderr=False).invoke(main, [*args, "-o", str(tmp_path / "m" / ".." / "m"), "--overwrite",
                                                      "--param", "n_estimators=4"])
    assert again.exit_code == 0, again.stderr
    assert json.loads((tmp_path / "m" / "metadata.json").read_text())["estimator"]["params"]["n_estimators"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


@pytest.mark.parametrize("command", ["train", "adapt"])
def test_the_n_jobs_of_a_fit_is_capped_at_the_cores(command, fits, tmp_path):
    from landmark_asl._util import available_cores

    cores = available_cores()
    result = CliRunner(mix_stderr=False).invoke(main, [command, "x", "-o", str(tmp_path / "m"), "--n-jobs", "100000"])
    assert result.exit_code == 0, result.stderr
    assert fits[-1]["n_jobs"] == cores  # 100000 threads cannot be started ("can't start new thread")
    assert f"Warning: --n-jobs 100000 capped at the {cores} available cores" in result.stderr
    for given in ("-1", "1"):
        result = CliRunner(mix_stderr=False).invoke(main, [command, "x", "-o", str(tmp_path / "m"), "--n-jobs", given])
        assert fits[-1]["n_jobs"] == int(given) and "capped" not in result.stderr


@pytest.mark.parametrize("source", ["99999999999999999999", "2147483648"])
def test_live_and_collect_refuse_a_camera_index_opencv_cannot_take_in_one_line(source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args in (["live", "--headless", "--source", source],
                 ["collect", "--source", source, "--letters", "A", "-o", str(tmp_path / "x.parquet")]):
        result = CliRunner(mix_stderr=False).invoke(main, args)
        assert result.exit_code == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr == (f"Error: camera index {source} is out of range: expected 0 to 2147483647 (0 is the "
                                 "first camera), a video file or a folder of images\n")
    assert not (tmp_path / "x.parquet").exists()


@pytest.fixture()
def serve_calls(monkeypatch) -> list[tuple[str, int]]:
    """serve with the app and uvicorn stood in for: (host, port) of each run_app call."""
    import landmark_asl.serve.app as app

    calls = []
    monkeypatch.setattr(app, "create_app", lambda model_dir, settings: object())
    monkeypatch.setattr(app, "run_app", lambda _, host, port: calls.append((host, port)))
    return calls


def test_serve_refuses_a_port_in_use_or_a_bad_host_in_one_line_before_the_serving_line(serve_calls):
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner(mix_stderr=False).invoke(main, ["serve", "--port", str(port), "--no-collect"])
    assert result.exit_code == 1 and "serving" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"Error: cannot serve on host '127.0.0.1' port {port}: ")
    assert len(result.stderr.splitlines()) == 1 and "choose another --port" in result.stderr
    result = CliRunner(mix_stderr=False).invoke(main, ["serve", "--host", "not a host", "--no-collect"])
    assert result.exit_code == 1 and "serving" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("Error: cannot serve on host 'not a host' port ")
    assert serve_calls == []
    # A free port is served, and the line names the port bound (0: one chosen here).
    result = CliRunner(mix_stderr=False).invoke(main, ["serve", "--port", "0", "--no-collect"])
    assert result.exit_code == 0, result.stderr
    assert serve_calls[0][1] > 0 and f"serving http://127.0.0.1:{serve_calls[0][1]}/ " in result.stderr


def test_serve_writes_an_ipv6_host_in_brackets_and_turns_a_failed_start_into_one_line(serve_calls, monkeypatch):
    import landmark_asl.cli.commands as commands
    import landmark_asl.serve.app as app

    monkeypatch.setattr(commands, "_bindable_port", lambda host, port: 8123)  # needs no IPv6 on this machine
    result = CliRunner(mix_stderr=False).invoke(main, ["serve", "--host", "::1", "--no-collect"])
    assert result.exit_code == 0 and "serving http://[::1]:8123/ (Ctrl-C stops)" in result.stderr, result.stderr
    assert serve_calls == [("::1", 8123)]

    def failed_start(_, host, port):  # uvicorn logs why, then exits with status 3
        raise SystemExit(3)

    monkeypatch.setattr(app, "run_app", failed_start)
    result = CliRunner(mix_stderr=False).invoke(main, ["serve", "--no-collect"])
    assert result.exit_code == 1 and result.stderr.splitlines()[-1] == (
        "Error: the server could not start on 127.0.0.1 port 8123 (the reason is logged above)")


def test_evaluate_refuses_an_output_inside_a_folder_it_scores_before_any_work(tmp_path, data_dir, monkeypatch):
    import landmark_asl.model.recognizer as recognizer
    from landmark_asl.exceptions import LandmarkASLError

    data = tmp_path / "evx"
    (data / "L").mkdir(parents=True)
    shutil.copy(data_dir / "asl2text" / "test" / "L" / "L0.jpg", data / "L" / "L0.jpg")
    calls = []
    monkeypatch.setattr(recognizer, "evaluate_images", lambda sources, **kwargs: calls.append(kwargs) or {})
    monkeypatch.chdir(tmp_path)
    for sources, output, relation in ((["evx"], "evx/L", "lies inside evx"), (["evx"], "evx", "is evx"),
                                      ([str(data / "L"), "evx"], "evx/L/../new", "lies inside evx")):
        result = CliRunner(mix_stderr=False).invoke(main, ["evaluate", *sources, "-o", output])
        assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith(f"Error: --output {output} {relation}, a folder being scored: ")
    assert calls == [] and sorted(p.name for p in data.rglob("*")) == ["L", "L0.jpg"]

    def scored(sources, **kwargs):  # an output beside the data is fine
        calls.append(kwargs)
        raise LandmarkASLError("scored")

    monkeypatch.setattr(recognizer, "evaluate_images", scored)
    result = CliRunner(mix_stderr=False).invoke(main, ["evaluate", "evx", "-o", "evx_report"])
    assert result.stderr == "Error: scored\n" and calls[0]["output"] == Path("evx_report")


def test_serve_binds_every_address_of_its_host_first(monkeypatch):
    # A name such as localhost may resolve to several addresses, and uvicorn binds them all: one taken
    # must be found before the "serving" line, not after it.
    import socket

    from landmark_asl.cli.commands import _bindable_port
    from landmark_asl.exceptions import LandmarkASLError

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        resolve = socket.getaddrinfo

        def two_addresses(host, *args, **kwargs):
            if host != "twohomed":
                return resolve(host, *args, **kwargs)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", args[0])),
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", args[0]))]

        monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
        with pytest.raises(LandmarkASLError, match=f"cannot serve on host 'twohomed' port {port}: Address already in use"):
            _bindable_port("twohomed", port)
        chosen = _bindable_port("twohomed", 0)  # any free port: the same one on both addresses
        assert chosen > 0
