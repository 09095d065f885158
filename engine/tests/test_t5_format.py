"""T5 in the LST paper's text-to-text format (issue 12, item 3): inputs written as the authors' code writes them,
labels as target text (STS-B in 0.2 bins), loss on the target tokens, evaluation on greedily generated text with
unknown answers counted wrong; ``t5_format: label_words`` keeps one-forward label-word scoring. t5-tiny preset
(random init: memory and the mechanics do not depend on weight values), real GLUE rows (fixtures/glue-real)."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest
import torch

from helpers import FIXTURES, SCHEMA, SST2, STSB, cli, experiment, run_folders
from ladderlab import checkpoint, metrics, stop
from ladderlab.backbones import load_backbone
from ladderlab.comparison import prepare, resume_run, run_comparison
from ladderlab.data import glue, load_task, task_spec, text2text
from ladderlab.data.pipeline import Batcher, encode
from ladderlab.data.types import Example
from ladderlab.devices import Autocast
from ladderlab.errors import BadInput
from ladderlab.estimate import data_length
from ladderlab.events import EventSink
from ladderlab.families.seq2seq import generate_ids
from ladderlab.methods import BUILDERS
from ladderlab.predict import predict_split
from ladderlab.step import loss_for, make_optimizer, training_step

CPU = torch.device("cpu")
FP32 = Autocast.of(CPU, "fp32")


@pytest.fixture(scope="module")
def t5():
    return load_backbone("preset:t5-tiny")


def paper_format(t5, task: str) -> text2text.TextFormat:
    fmt = text2text.for_backbone("paper", t5, task_spec(task))
    assert fmt is not None
    return fmt


def first_row(task: str, folder) -> Example:
    """The first data row of a GLUE train.tsv, read by the engine's own reader."""
    fmt = glue.FORMATS[task]
    return glue.read_file(fmt, folder / "train.tsv")[0]


def test_inputs_are_written_as_the_authors_code_writes_them(t5):
    """Task name, then each field's name before its text (ylsung/Ladder-Side-Tuning seq2seq/data/tasks.py); MNLI's
    "hypothesis" has no colon there, and so none here."""
    sst2 = first_row("sst2", SST2)
    assert paper_format(t5, "sst2").source(sst2) == "sst2 sentence: hide new secretions from the parental units "
    stsb = first_row("stsb", STSB)
    assert (
        paper_format(t5, "stsb").source(stsb)
        == "stsb sentence1: A plane is taking off. sentence2: An air plane is taking off."
    )
    mnli = first_row("mnli", FIXTURES / "glue" / "MNLI")
    assert paper_format(t5, "mnli").source(mnli) == (
        "mnli premise: He closed the door quietly so he would not wake the baby. "
        "hypothesis He was trying not to wake the baby."
    )
    assert paper_format(t5, "qqp").source(Example("Is it?", "Was it?", 0)) == "qqp question1: Is it? question2: Was it?"


def test_targets_are_class_indices_and_stsb_bins(t5):
    assert paper_format(t5, "sst2").targets == ("0", "1")
    assert paper_format(t5, "mnli").targets == ("0", "1", "2")
    bins = paper_format(t5, "stsb").targets
    assert len(bins) == 26 and bins[:3] == ("0.0", "0.2", "0.4") and bins[-1] == "5.0"
    assert [text2text.bin_score(s) for s in (0.0, 3.84, 3.95, 4.15, 4.99)] == ["0.0", "3.8", "4.0", "4.2", "5.0"]
    fmt = paper_format(t5, "stsb")
    text = [*t5.tokenizer("3.8", add_special_tokens=False)["input_ids"], t5.config.eos_token_id]
    assert fmt.target_ids(3.84) == text + [text2text.LABEL_PAD] * (fmt.target_length - len(text))


def test_a_score_off_the_bins_scale_is_bad_input(t5):
    fmt = text2text.for_backbone("paper", t5, task_spec("file", regression=True))
    assert fmt is not None and fmt.target(5.0) == "5.0"
    with pytest.raises(BadInput, match="outside 0-5") as info:
        fmt.target_ids(-3.5)
    assert "label_words" in info.value.hint


def test_stsb_scores_round_trip_through_the_bins(t5):
    """Every real STS-B training score -> target text -> its tokens -> decoded -> parsed: the score rounded to the
    nearest 0.2, never more than 0.1 away."""
    fmt = paper_format(t5, "stsb")
    rows = glue.read_file(glue.FORMATS["stsb"], STSB / "train.tsv")
    for row in rows:
        ids = [i for i in fmt.target_ids(row.label) if i != text2text.LABEL_PAD]
        back = fmt.parse(fmt.decode(ids))
        assert back == pytest.approx(round(row.label * 5) / 5) and abs(back - row.label) <= 0.1 + 1e-9, row


def test_an_answer_that_is_no_label_counts_as_wrong(t5):
    fmt = paper_format(t5, "mrpc")
    assert [fmt.parse(s) for s in ("1", " 0 ", "2", "yes", "", "1 1")] == [1, 0, -1, -1, -1, -1]
    assert paper_format(t5, "stsb").parse("3. 8") == pytest.approx(3.8)  # as a WordPiece tokenizer decodes "3.8"
    assert paper_format(t5, "stsb").parse("similar") == text2text.UNKNOWN_SCORE
    # MRPC: accuracy and F1 of class 1; an unknown answer is wrong whichever the reference (the reference code's
    # f1_score_with_invalid): here TP 1, FN 1 (unknown for a 1), FP 1 (unknown for a 0) -> F1 = 2/4
    mrpc = task_spec("mrpc")
    result = metrics.compute(mrpc, [1, text2text.UNKNOWN, 0, text2text.UNKNOWN], [1, 1, 0, 0])
    assert result["accuracy"] == 50.0 and result["f1"] == 50.0
    assert metrics.compute(task_spec("mnli"), [text2text.UNKNOWN] * 3, [0, 1, 2])["accuracy"] == 0.0


def encoded(t5, task: str, folder, n: int) -> tuple:
    data = load_task(task, str(folder), seed=0, max_train_examples=16, max_eval_examples=8)
    fmt = paper_format(t5, task)
    feats = encode(data.train[:n], t5.tokenizer, 48, fmt)
    return data.spec, fmt, next(Batcher(t5.tokenizer, CPU).batches(feats, n))


@pytest.mark.parametrize("task,folder", [("sst2", SST2), ("stsb", STSB)])
def test_the_loss_is_transformers_own_seq2seq_loss_on_the_target_tokens(t5, task, folder):
    """The engine's loss on the family's logits equals T5ForConditionalGeneration's own loss given the same labels
    (it shifts them right itself): teacher forcing and padding are right. STS-B too: its score is text."""
    spec, _, batch = encoded(t5, task, folder, 8)
    model = BUILDERS["full"](t5, t5.new_task_model(spec, 0), experiment(methods=["full"]))
    model.eval()
    # transformers shifts the labels itself and needs the start token named (a preset's config built in code lacks
    # it; the family falls back to T5's convention, the pad token)
    model.model.config.decoder_start_token_id = t5.config.pad_token_id
    labels = batch["labels"]
    # a padded target position (-100) after every target: ignored, and unseen by the earlier ones (causal decoder)
    padded = {**batch, "labels": torch.cat([labels, torch.full_like(labels[:, :1], text2text.LABEL_PAD)], dim=1)}
    ours = [loss_for(spec)(model(b), b["labels"]).item() for b in (batch, padded)]
    own = model.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels).loss
    assert ours == pytest.approx([own.item(), own.item()], rel=1e-5)


@pytest.mark.parametrize("method", ["lst", "lora", "prompt", "adapter", "bitfit"])
def test_every_method_takes_a_training_step_on_target_tokens(t5, method):
    spec, _, batch = encoded(t5, "sst2", SST2, 8)
    exp = experiment(methods=[method], backbone="preset:t5-tiny", init="random")
    model = BUILDERS[method](t5, t5.new_task_model(spec, 0), exp)
    before = {n: p.detach().clone() for n, p in model.trainable_named_parameters().items()}
    params, opt, sched = make_optimizer(model, exp.lr_for(method), 0.0, 0, 10)
    model.train()
    loss = training_step(model, batch, loss_for(spec), params, opt, sched, 1.0, FP32)
    assert torch.isfinite(loss) and loss.item() > 0
    changed = [n for n, p in model.trainable_named_parameters().items() if not torch.equal(p, before[n])]
    assert changed, f"{method}: no trainable parameter moved"


VARIANTS = [{}, {"side_network": "side_tuning"}, {"side_network": "compression"}, {"fusion": "cross_attention"}]


@pytest.mark.parametrize("variant", VARIANTS, ids=["ladders", "side_tuning", "compression", "cross_attention"])
def test_lst_and_its_ablations_train_and_decode_in_the_paper_format(t5, variant):
    """LST's side decoder reads the shifted targets as T5's decoder does (compression: from its own token table), so
    every variant trains on the target tokens and decodes step by step through its forward."""
    spec, fmt, batch = encoded(t5, "stsb", STSB, 8)
    exp = experiment(methods=["lst"], backbone="preset:t5-tiny", init="random", **variant)
    model = BUILDERS["lst"](t5, t5.new_task_model(spec, 0), exp)
    params, opt, sched = make_optimizer(model, exp.lr_for("lst"), 0.0, 0, 10)
    model.train()
    assert torch.isfinite(training_step(model, batch, loss_for(spec), params, opt, sched, 1.0, FP32))
    model.eval()
    ids = generate_ids(model, batch, fmt.max_new_tokens, fmt.eos_id, own_forward=True)
    assert ids.shape[0] == 8 and 1 <= ids.shape[1] <= fmt.max_new_tokens


@pytest.fixture(scope="module")
def overfit(t5):
    """Full fine-tuning of t5-tiny on 8 real SST-2 rows until it answers each with its label's text."""
    torch.manual_seed(0)
    spec, fmt, batch = encoded(t5, "sst2", SST2, 8)
    model = BUILDERS["full"](t5, t5.new_task_model(spec, 0), experiment(methods=["full"]))
    with torch.no_grad():
        untrained = predict_split(model, [batch], spec, fmt, FP32)
    params, opt, sched = make_optimizer(model, 1e-2, 0.0, 0, 1000)
    for _ in range(32):
        model.train()
        training_step(model, batch, loss_for(spec), params, opt, sched, 1.0, FP32)
        with torch.no_grad():
            trained = predict_split(model, [batch], spec, fmt, FP32)
        if trained[0] == trained[1]:
            break
    return spec, fmt, batch, model, untrained, trained


def test_generated_text_is_scored_and_garbage_counts_as_wrong(overfit):
    """Before training, t5-tiny generates strings that are no label: every answer UNKNOWN, accuracy 0 (label-word
    argmax would score about half right by chance). Trained, it generates the labels' text, which scores them."""
    spec, fmt, batch, _, (before, refs), (after, refs_after) = overfit
    assert before == [text2text.UNKNOWN] * len(refs)
    assert metrics.compute(spec, before, refs)["accuracy"] == 0.0
    assert refs_after == batch["reference"].tolist() and text2text.UNKNOWN not in after
    assert metrics.compute(spec, after, refs_after)["accuracy"] == 100.0


def test_greedy_decoding_through_the_forward_is_transformers_generate(t5, overfit):
    """LST decodes through its own forward, step by step; on a plain model that gives what generate() gives,
    trained (label, end token) and untrained (no end token: max_new_tokens of arbitrary tokens)."""
    spec, fmt, batch, trained, _, _ = overfit
    untrained = BUILDERS["full"](t5, t5.new_task_model(spec, 1), experiment(methods=["full"]))
    for model in (trained, untrained):
        model.eval()
        via_generate = generate_ids(model, batch, fmt.max_new_tokens, fmt.eos_id, own_forward=False)
        step_by_step = generate_ids(model, batch, fmt.max_new_tokens, fmt.eos_id, own_forward=True)
        assert torch.equal(via_generate, step_by_step)
    assert (via_generate != fmt.eos_id).all()  # the untrained model never ended: the cap was exercised


def test_label_words_keep_one_forward_scoring(t5, tmp_path):
    """``t5_format: label_words``: class-index labels, (B, classes) logits from the first decoder step; other
    families never get the text format."""
    exp = experiment(
        backbone="preset:t5-tiny", task="sst2", data=str(SST2), t5_format="label_words", max_train_examples=16
    )
    _, data = prepare(exp)
    assert data.text_format is None and isinstance(data.features["train"][0]["labels"], int)
    batch = next(data.batcher.batches(data.features["train"], 4))
    model = BUILDERS["full"](t5, t5.new_task_model(data.task.spec, 0), exp)
    assert model(batch).shape == (4, 2)
    assert text2text.for_backbone("paper", load_backbone("preset:bert-tiny"), data.task.spec) is None


def test_the_estimate_reads_the_inputs_a_t5_run_trains_on(t5):
    """``ladderlab estimate`` sizes its batch by the longest training input as the run writes it: with the paper's
    task prefix and field names on T5 ("stsb sentence1: ... sentence2: ..."), longer than the bare pair."""
    values = {"backbone": "preset:t5-tiny", "task": "stsb", "data": str(STSB), "max_train_examples": 32}
    paper = data_length(experiment(**values), t5)
    label_words = data_length(experiment(**values, t5_format="label_words"), t5)
    assert paper["length_from"] == label_words["length_from"] == "data"
    assert paper["length"] > label_words["length"]


def ladderlab(*args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ladderlab.cli", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_runs_in_the_paper_format_validate_and_export_says_why_not(tmp_path):
    """LST (with its tap cache, two epochs: the second reads the decoder taps back) and prompt tuning on STS-B
    through the CLI: every event validates against the protocol's schema, evaluation events carry Pearson and
    Spearman of generated scores; export refuses a T5 run with a message that says what it supports."""
    args = cli(
        "compare --backbone preset:t5-tiny --methods lst,prompt --task stsb --data",
        STSB,
        "--max-train-examples 16 --max-eval-examples 8 --epochs 2 --batch-size 8 --max-length 48",
        "--fisher-samples 4 --tap-cache cpu --prompt-tokens 4 --format events --runs-dir",
        tmp_path / "runs",
    )
    result = ladderlab(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    events = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    for event in events:
        validator.validate(event)
    evaluations = [e for e in events if e["type"] == "evaluation"]
    assert len(evaluations) == 6 and all({"pearson", "spearman"} <= set(e["metrics"]) for e in evaluations)
    assert any(e["type"] == "log" and "no label; counted as wrong" in e["message"] for e in events)
    assert [e["summary"]["method"] for e in events if e["type"] == "run_finished"] == ["lst", "prompt"]
    config = json.loads((run_folders(tmp_path / "runs")[0] / "config.json").read_text())
    assert config["t5_format"] == "paper"
    exported = ladderlab("export", run_folders(tmp_path / "runs")[0], cwd=tmp_path)
    assert exported.returncode == 2 and "supports encoder (BERT-family) backbones" in exported.stderr


class Recorder(EventSink):
    """A real sink that keeps its events and, if told to, asks for a stop (as the signal handler does) after the
    first training step."""

    def __init__(self, stop_after_a_step: bool):
        super().__init__("quiet")
        self.stop_after_a_step, self.events = stop_after_a_step, []

    def emit(self, type_, **fields):
        event = super().emit(type_, **fields)
        self.events.append(event)
        if self.stop_after_a_step and type_ == "train_step":
            stop.request("SIGTERM")
        return event


def test_a_run_from_before_t5_format_resumes_scoring_label_words(tmp_path):
    """A T5 run stopped before this field existed trained on label words; its config.json (and checkpoint) lack
    t5_format, and resuming it must not switch it to the paper's format half way."""
    exp = experiment(
        **{"backbone": "preset:t5-tiny", "methods": ["bitfit"], "task": "sst2", "data": str(SST2)},
        **{"t5_format": "label_words", "max_train_examples": 16, "max_eval_examples": 8, "batch_size": 8},
        runs_dir=str(tmp_path / "runs"),
    )
    with stop.graceful_signals(), pytest.raises(stop.StopRequested):
        run_comparison(exp, Recorder(stop_after_a_step=True))
    run_dir = run_folders(tmp_path / "runs")[0]
    config = json.loads((run_dir / "config.json").read_text())
    del config["t5_format"]  # as an older engine wrote it
    (run_dir / "config.json").write_text(json.dumps(config))
    payload = torch.load(run_dir / checkpoint.CHECKPOINT, weights_only=True)
    payload["config_json"] = json.dumps(config, sort_keys=True)
    torch.save(payload, run_dir / checkpoint.CHECKPOINT)

    resumed = Recorder(stop_after_a_step=False)
    with stop.graceful_signals():
        resume_run(run_dir, resumed)
    [started] = [e for e in resumed.events if e["type"] == "run_started"]
    assert started["config"]["t5_format"] == "label_words"
    assert not any(e["type"] == "log" and "no label" in e["message"] for e in resumed.events)
