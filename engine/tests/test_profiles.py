"""``profile: "paper"`` (issue 12): one switch for the LST paper's protocol, filling only what the user leaves out."""

from __future__ import annotations

import re

import pytest

from helpers import REPO, tiny_lst_run
from ladderlab.cli import main as cli_main
from ladderlab.comparison import run_comparison
from ladderlab.config import DEFAULT_LR, build_experiment
from ladderlab.errors import BadInput
from ladderlab.events import EventSink
from ladderlab.profiles import PAPER, PAPER_EPOCHS, TABLE5_LAYERS

T5_BASE_LAYERS = [1, 2, 3, 5, 6, 7, 9, 10, 11]  # Table 5 as printed; 0-based already (it names 11 of 12 layers)


def paper(**values):
    return build_experiment({}, {"profile": "paper", **values})


def test_the_paper_profile_sets_the_papers_values():
    exp = paper(task="sst2", backbone="preset:t5-base")
    assert (exp.batch_size, exp.epochs, exp.warmup_steps, exp.max_length) == (100, 10, 500, 128)
    assert (exp.fisher_samples, exp.init, exp.r, exp.keep_layers) == (1024, "fisher", 8, T5_BASE_LAYERS)
    assert (exp.adapter_size, exp.lora_rank, exp.prompt_tokens, exp.precision, exp.weight_decay) == (
        48,
        32,
        100,
        "fp32",
        0.0,
    )
    # Table 5's learning rates: 3e-3 LST, 3e-1 prompt tuning, 3e-4 the rest
    assert {m: exp.lr_for(m) for m in DEFAULT_LR} == {
        "lst": 3e-3,
        "lora": 3e-4,
        "adapter": 3e-4,
        "bitfit": 3e-4,
        "prompt": 3e-1,
        "full": 3e-4,
    }
    assert paper(task="rte").epochs == 20 and paper(task="stsb").epochs == 20 and paper(task="mnli").epochs == 10


def test_side_layers_follow_the_backbone_as_in_table_5():
    assert paper(backbone="preset:bert-base").keep_layers == T5_BASE_LAYERS  # any 12-layer backbone
    assert paper(backbone="preset:t5-large").keep_layers == [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23]
    assert paper(backbone="preset:t5-3b").keep_layers == [23]
    assert paper(backbone="default").keep_layers is None  # 6 layers: a depth the paper never used, every layer


def test_values_the_user_sets_win_over_the_profile():
    exp = build_experiment(
        {"profile": "paper", "batch_size": 16, "keep_layers": [0, 5]},
        {"epochs": 2, "backbone": "preset:t5-base", "lr": 1e-3},
    )
    assert (exp.batch_size, exp.keep_layers, exp.epochs, exp.lr_for("lora")) == (16, [0, 5], 2, 1e-3)
    assert exp.fisher_samples == 1024  # what the user left out still comes from the profile
    ratio = paper(warmup_ratio=0.1)  # a warmup set as a ratio wins over the profile's 500 steps
    assert ratio.warmup_steps is None and ratio.warmup_for(1000) == 100
    assert build_experiment({}, {}).batch_size == 16  # no profile: the fields' own defaults


def test_an_unknown_profile_is_refused_with_the_choices(capsys):
    with pytest.raises(BadInput, match="unknown profile 'fast'") as info:
        paper(profile="fast")
    assert "'paper'" in (info.value.hint or "")
    assert cli_main(["run", "--profile", "fast", "--format", "text"]) == 2
    assert "unknown profile 'fast'" in capsys.readouterr().err


def test_warmup_steps_drive_the_schedule(tmp_path):
    """A real run: the learning rate climbs for warmup_steps steps, then decays."""

    class Rates(EventSink):
        def __init__(self):
            super().__init__("quiet")
            self.lrs: list[float] = []

        def emit(self, type_, **fields):
            if type_ == "train_step":
                self.lrs.append(fields["lr"])
            return super().emit(type_, **fields)

    sink = Rates()
    run_comparison(tiny_lst_run(tmp_path, warmup_steps=3, init="random"), sink)
    peak = sink.lrs.index(max(sink.lrs))
    assert len(sink.lrs) == 8 and peak == 2  # after 3 steps (the rate logged is the next step's)
    assert sink.lrs[:3] == sorted(sink.lrs[:3]) and sink.lrs[2:] == sorted(sink.lrs[2:], reverse=True)
    assert build_experiment({}, {"warmup_steps": 500}).warmup_for(40) == 40  # capped at the run's steps


def test_readme_lists_every_value_the_profile_sets():
    text = REPO.joinpath("README.md").read_text()
    section = text.split("### The paper profile", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+)` \| (.+?) \|", section, flags=re.M))
    assert set(rows) == {*PAPER, "epochs", "keep_layers"}
    for name, value in PAPER.items():
        assert rows[name].split(" (")[0].strip("` ") == str(value), name  # the value, then any remark in brackets
    assert all(str(n) in rows["epochs"] for n in PAPER_EPOCHS.values())
    for layers in TABLE5_LAYERS.values():
        assert ",".join(map(str, layers)) in rows["keep_layers"].replace(" ", "")
