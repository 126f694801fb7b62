"""The training recipe: one typed value saying how a model is trained, checked once and stored in its card."""

from __future__ import annotations

import dataclasses
import inspect
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from landmark_asl.exceptions import LandmarkASLError

#: Choices of ``balance``: None (every row weighs the same) or 'dataset' (every dataset,
#: e.g. asl2text, massey, nejohnson2, weighs the same in all, however many rows it has).
BALANCE_CHOICES = (None, "dataset")
#: Most augmented copies per training row: each copy adds the training set once more.
MAX_COPIES = 10


@dataclass(frozen=True)
class Recipe:
    """How a model is trained: estimator, features, balance, augmentation, calibration.

    The defaults are the shipped model's recipe (:data:`DEFAULT_RECIPE`, the defaults of
    ``landmark-asl train``), chosen on the leave-one-source-out protocol
    (``experiments/exp_lodo.py``): a 50-tree random forest with ``min_samples_leaf=5`` on the
    handshape features, every dataset weighing the same, one augmented copy of each row (3D
    rotations up to 30 degrees, y stretched by up to 1.3x either way; the G and H copies also
    turned about the vertical axis by up to 180 degrees, because sources show those two letters
    from opposite sides), temperature scaling fitted on out-of-group predictions, and G from Q,
    K from P told apart by where the index points (``pointing``). :meth:`plain`
    is a model with none of that.

    Attributes
    ----------
    model_name : str
        Registry name (``'rf'``, ``'xgb'``, ``'cnn'``).
    params : dict
        Parameters of ``model_name``'s factory; for landmark models they include the features
        (``handshape``: the normalizer's handshape features, see ``LandmarkNormalizer``).
    balance : {'dataset', None}
        Landmark models: weigh every dataset the same, so that one signer with 10,000 rows does
        not outweigh the rest.
    augment : dict or None
        Landmark models: keyword arguments of
        :func:`landmark_asl.estimators.features.augment_landmarks` (perturbed copies of the rows).
    calibrate : bool or 'auto'
        Fit a temperature on out-of-group predictions (needs two or more groups); ``'auto'``:
        when the training rows hold two or more groups.
    pointing : bool
        Landmark models: fit the :data:`~landmark_asl.estimators.pointing.DEFAULT_GATES` on the
        training rows of G and Q, K and P (each pair one handshape, told apart by where the index
        points) and store them in the card; the model's probabilities of those letters then follow them.
    """

    model_name: str = "rf"
    params: Mapping[str, Any] = field(default_factory=lambda: {"n_estimators": 50, "min_samples_leaf": 5,
                                                               "handshape": True})
    balance: str | None = "dataset"
    augment: Mapping[str, Any] | None = field(default_factory=lambda: {"n_copies": 1, "max_angle": 30.0,
                                                                       "stretch": 0.3, "max_yaw": 180.0,
                                                                       "yaw_labels": ["G", "H"]})
    calibrate: bool | Literal["auto"] = True
    pointing: bool = True

    @classmethod
    def plain(cls, model_name: str, params: Mapping[str, Any] | None = None) -> Recipe:
        """``model_name`` with ``params`` and nothing else: no balance, no augmentation, no calibration, no gate."""
        return cls(model_name=model_name, params=dict(params or {}), balance=None, augment=None, calibrate=False,
                   pointing=False)

    def check(self) -> None:
        """Refuse what ``model_name`` cannot use, before any data is read.

        Raises
        ------
        LandmarkASLError
            An unknown model name or parameter, an unknown ``balance``, an augmentation
            parameter ``augment_landmarks`` does not take or cannot use, balance or
            augmentation for the pixel model, or a ``calibrate`` that is neither a bool nor 'auto'.
        """
        # The registry loads scikit-learn: imported here so that the CLI can read the defaults for --help.
        from landmark_asl.estimators.registry import build_estimator, get_spec

        build_estimator(self.model_name, params=dict(self.params))  # unknown names and bad parameters
        if self.balance not in BALANCE_CHOICES:
            raise LandmarkASLError(f"balance must be one of {BALANCE_CHOICES}; got {self.balance!r}")
        if self.calibrate not in (True, False, "auto"):
            raise LandmarkASLError(f"calibrate must be True, False or 'auto'; got {self.calibrate!r}")
        if not isinstance(self.pointing, bool):
            raise LandmarkASLError(f"pointing must be True or False; got {self.pointing!r}")
        if (self.balance or self.augment or self.pointing) and get_spec(self.model_name).input_kind != "landmarks":
            raise LandmarkASLError(f"{self.model_name}: balance, landmark augmentation and the pointing gate apply to "
                                   "landmark models only")
        if self.augment:
            _check_augment(dict(self.augment))

    def training_kwargs(self) -> dict[str, Any]:
        """``params``, ``balance`` and ``augment`` as plain values (the form the protocol's results record)."""
        return {"params": dict(self.params), "balance": self.balance,
                "augment": dict(self.augment) if self.augment is not None else None}

    def replace(self, **changes: Any) -> Recipe:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in a model card (``metadata.json`` ``recipe``)."""
        return {"model_name": self.model_name, **self.training_kwargs(), "calibrate": self.calibrate,
                "pointing": self.pointing}

    @classmethod
    def from_dict(cls, data: Any) -> Recipe:
        """Build a recipe from :meth:`to_dict`'s form.

        Raises
        ------
        ValueError
            If ``data`` is not a dict of the recipe's fields with values of the right types.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        if not isinstance(data, dict) or set(data) - set(names) or "model_name" not in data:
            raise ValueError(f"a recipe is an object with model_name and some of {names}; got {data!r}")
        if not isinstance(data["model_name"], str) or not isinstance(data.get("params", {}), dict):
            raise ValueError(f"a recipe's model_name is a string and its params an object; got {data!r}")
        if data.get("augment") is not None and not isinstance(data["augment"], dict):
            raise ValueError(f"a recipe's augment is an object or null; got {data['augment']!r}")
        values = {**dataclasses.asdict(cls.plain(data["model_name"])), **data}
        return cls(**values)


#: Short reprs for error lines: a card or CLI value may be huge.
_SHORT = reprlib.Repr()
_SHORT.maxdict, _SHORT.maxlist, _SHORT.maxstring, _SHORT.maxother = 10, 6, 60, 60


def _check_augment(augment: dict[str, Any]) -> None:
    import numpy as np

    from landmark_asl.estimators.features import augment_landmarks  # scikit-learn: see Recipe.check
    allowed = set(inspect.signature(augment_landmarks).parameters) - {"X", "y", "random_state"}
    unknown = sorted(set(augment) - allowed)
    if unknown:
        raise LandmarkASLError(f"unknown augmentation parameter(s) {unknown}: expected some of {sorted(allowed)}")
    try:
        augment_landmarks(np.zeros((1, 127)), np.zeros(1), **{**augment, "n_copies": 0})  # checks the values
    except (TypeError, ValueError) as exc:
        raise LandmarkASLError(f"bad augmentation parameters {_SHORT.repr(augment)}: {exc}") from None
    n_copies = augment.get("n_copies", 2)
    if isinstance(n_copies, bool) or not isinstance(n_copies, int) or not 0 <= n_copies <= MAX_COPIES:
        raise LandmarkASLError(
            f"augmentation n_copies must be an integer from 0 to {MAX_COPIES}; got {n_copies!r} "
            "(each copy adds the whole training set once more)"
        )


#: The shipped model's recipe (``tools/train_default.py`` and ``landmark-asl train``'s defaults).
DEFAULT_RECIPE = Recipe()
#: Classes of the shipped model: letters and DEL/NOTHING/SPACE (massey's digits are left out:
#: the live speller types letters).
DEFAULT_LABELS: tuple[str, ...] = tuple(chr(c) for c in range(ord("A"), ord("Z") + 1)) + ("DEL", "NOTHING", "SPACE")
#: Training sources of the shipped model: every source of the leave-one-source-out protocol.
DEFAULT_SOURCES: tuple[str, ...] = (
    "asl2text/train",
    "asl2text/test",
    "asl_alphabet_64/test",
    "landmarks/nejohnson2_wrist_relative.csv",
    "landmarks/borisgraudt_raw_gestures.csv",
    "massey",
    "ml_slr",
)
