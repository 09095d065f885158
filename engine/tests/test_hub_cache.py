"""A backbone named by Hugging Face hub id is read from the user's Hugging Face cache, as huggingface_hub lays it out
and resolves it (hub.py): refs, revisions, HF_HUB_CACHE; a model not in the cache is refused with the id, the folder
looked in and the command that downloads it (exit 2); ``ladderlab cache list`` lists what is there.

The cache is built here exactly as huggingface_hub writes it (models--org--name/blobs/<hash>, snapshots/<commit>/<file>
as relative links to the blobs, refs/<name> holding the commit), filled from the embedded all-MiniLM-L6-v2 files.
Offline throughout (the package sets HF_HUB_OFFLINE=1): nothing here can download.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import constants

import fake_hub
from helpers import FIXTURES, SST2, TINY, cli
from hub_layout import FILES, MAIN, REPO_ID, add_snapshot, minilm_cache
from ladderlab import hub
from ladderlab.backbones import default_backbone_path, load_backbone
from ladderlab.cli import main
from ladderlab.data.hf_datasets import parse_dataset_name
from ladderlab.errors import BadInput
from ladderlab.filepaths import resolve_file_paths

SMALL = "b" * 40  # a second commit, on branch "small": the same files, a 3-layer config


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("hf") / "hub"
    repo = minilm_cache(cache)
    source = default_backbone_path()
    small_config = tmp_path_factory.mktemp("small") / "config.json"
    small_config.write_text(json.dumps({**json.loads((source / "config.json").read_text()), "num_hidden_layers": 3}))
    add_snapshot(repo, SMALL, "small", {**{name: source / name for name in FILES}, "config.json": small_config})
    return cache


@pytest.fixture
def in_cache(hub_cache, monkeypatch):
    """huggingface_hub reads HF_HUB_CACHE once, at import: in this process the constant stands in for the variable
    (the CLI tests below set the variable itself)."""
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub_cache))
    return hub_cache


def test_a_hub_id_is_its_main_snapshot_and_a_revision_its_own(in_cache):
    repo = in_cache / "models--sentence-transformers--all-MiniLM-L6-v2"
    backbone = load_backbone(REPO_ID)
    assert backbone.folder == repo / "snapshots" / MAIN
    assert (backbone.name, backbone.config.model_type, backbone.num_layers) == (REPO_ID, "bert", 6)
    assert backbone.tokenizer("a fine film")["input_ids"][:2] == [101, 1037]  # the real WordPiece vocabulary
    small = load_backbone(f"{REPO_ID}@small")  # a branch: its ref names the commit
    assert (small.folder, small.num_layers) == (repo / "snapshots" / SMALL, 3)
    assert load_backbone(f"{REPO_ID}@{SMALL}").folder == repo / "snapshots" / SMALL  # a commit, as is


def test_the_weights_load_from_the_snapshot(in_cache, sst2):
    model = load_backbone(f"{REPO_ID}@small").new_task_model(sst2.spec, 0)
    expected = load_backbone("default").new_task_model(sst2.spec, 0)
    # The cached blobs are the embedded model's bytes: the same pretrained weights (3 of its 6 layers).
    ours, theirs = model.bert.encoder.layer[2].output.dense.weight, expected.bert.encoder.layer[2].output.dense.weight
    assert ours.equal(theirs) and len(model.bert.encoder.layer) == 3


def test_a_model_not_in_the_cache_is_refused_with_the_fix(in_cache, monkeypatch):
    monkeypatch.delenv(hub.ALLOW_DOWNLOAD_ENV, raising=False)
    with pytest.raises(BadInput) as info:
        load_backbone("google-t5/t5-base")
    assert "google-t5/t5-base is not in the Hugging Face cache" in info.value.message
    assert str(in_cache) in info.value.message and "downloads are off" in info.value.message
    assert "hf download google-t5/t5-base" in (info.value.hint or "") and "--allow-download" in (info.value.hint or "")
    with pytest.raises(BadInput, match="at revision v9") as info:
        load_backbone(f"{REPO_ID}@v9")  # a revision the cache does not have
    assert "--revision v9" in (info.value.hint or "")
    # Allowed by the flag, yet the user's own HF_HUB_OFFLINE=1 still refuses, and the message says why.
    monkeypatch.setenv(hub.ALLOW_DOWNLOAD_ENV, "1")
    monkeypatch.setattr(hub, "USER_HF_HUB_OFFLINE", "1")
    with pytest.raises(BadInput, match="HF_HUB_OFFLINE is set") as info:
        load_backbone("google-t5/t5-base")
    assert "unset HF_HUB_OFFLINE so --allow-download may download it" in (info.value.hint or "")


def test_a_folder_by_that_name_wins_and_paths_are_not_ids(in_cache, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(default_backbone_path(), tmp_path / "sentence-transformers" / "all-MiniLM-L6-v2", symlinks=True)
    assert load_backbone(REPO_ID).folder == Path(REPO_ID)  # the folder, not the cache
    for value in ("./org/name", "/abs/name", "org/name/extra", "org//name", "a-folder"):
        assert hub.parse_hub_id(value) is None, value
    assert hub.parse_hub_id("google-t5/t5-base@v1.0") == ("google-t5/t5-base", "v1.0")


def test_cache_listing(in_cache):
    listing = hub.cached_models()
    assert listing["cache"] == str(in_cache) and listing["warnings"] == []
    by_backbone = {m["backbone"]: m for m in listing["models"]}
    assert list(by_backbone) == [REPO_ID, f"{REPO_ID}@small"]  # main first: what the bare id gives
    main = by_backbone[REPO_ID]
    size = sum((default_backbone_path() / name).stat().st_size for name in FILES)
    assert (main["id"], main["revision"], main["refs"], main["size_bytes"]) == (REPO_ID, MAIN, ["main"], size)
    assert (main["model_type"], main["architectures"], main["supported"]) == ("bert", ["BertModel"], True)
    assert by_backbone[f"{REPO_ID}@small"]["revision"] == SMALL


def test_cli_exits_2_for_a_missing_model(in_cache, capsys, monkeypatch):
    monkeypatch.delenv(hub.ALLOW_DOWNLOAD_ENV, raising=False)
    assert main(cli("run --methods lst --data sample --format text --backbone google-t5/t5-base")) == 2
    err = capsys.readouterr().err
    assert f"google-t5/t5-base is not in the Hugging Face cache (looked in {in_cache})" in err
    assert "hf download google-t5/t5-base" in err


def test_cli_lists_the_cache(in_cache, capsys):
    assert main(["cache", "list", "--json"]) == 0
    assert [m["backbone"] for m in json.loads(capsys.readouterr().out)["models"]] == [REPO_ID, f"{REPO_ID}@small"]
    assert main(["cache", "list"]) == 0
    table = capsys.readouterr().out
    assert f"models in {in_cache}:" in table and f"{REPO_ID}@small" in table and "bert" in table


@pytest.mark.parametrize(("variable", "folder"), [("HF_HUB_CACHE", "hub-cache"), ("HF_HOME", "hf-home/hub")])
def test_the_cache_is_where_the_environment_says(tmp_path, variable, folder):
    """A fresh process, so huggingface_hub reads the variables itself, as on the user's machine."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_CACHE", "HF_HOME", "HUGGINGFACE_HUB_CACHE")}
    env[variable] = str(tmp_path / folder.removesuffix("/hub"))
    code = "from ladderlab.hub import cache_folder; print(cache_folder())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == str(tmp_path / folder)


def test_an_experiment_file_keeps_hub_names_unless_a_path_by_that_name_lies_beside_it(tmp_path):
    values = {"backbone": f"{REPO_ID}@small", "data": "nyu-mll/glue:sst2"}
    assert resolve_file_paths(values, tmp_path) == values
    (tmp_path / "sentence-transformers" / "all-MiniLM-L6-v2").mkdir(parents=True)
    resolved = resolve_file_paths({"backbone": REPO_ID}, tmp_path)
    assert resolved["backbone"] == str(tmp_path / REPO_ID)


def test_a_run_by_hub_id_trains_on_the_snapshot(in_cache, tmp_path, capsys):
    argv = cli(f"compare --json --methods bitfit --backbone {REPO_ID}@small --task sst2 --data", SST2, *TINY)
    assert main([*argv, "--runs-dir", str(tmp_path)]) == 0, capsys.readouterr().err
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    config = json.loads((Path(row["run_dir"]) / "config.json").read_text())
    assert config["backbone"] == f"{REPO_ID}@small"  # as written: resume and export resolve it again


def test_hub_names_are_read_as_the_extension_reads_them():
    cases = json.loads((FIXTURES / "hub-names.json").read_text())
    for value, repo, revision in cases["hub_ids"]:
        assert hub.parse_hub_id(value) == (None if repo is None else (repo, revision)), value
    for value, repo, config in cases["dataset_names"]:
        assert parse_dataset_name(value) == (None if repo is None else (repo, config)), value


def _resolve_in_fresh_process(env: dict[str, str], *ids: str) -> str:
    """Each of ``ids`` (default google-t5/t5-small) resolved where the package reads HF_HUB_OFFLINE and the hub's
    address itself; stdout holds each refusal's message and hint."""
    code = (
        "import sys\nfrom ladderlab.errors import BadInput\nfrom ladderlab.hub import resolve_model\n"
        "for repo in sys.argv[1:]:\n    try:\n        resolve_model(repo, None)\n"
        "    except BadInput as e:\n        print(e.message, e.hint)"
    )
    ids = ids or ("google-t5/t5-small",)
    base = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", hub.ALLOW_DOWNLOAD_ENV)}
    run = [sys.executable, "-c", code, *ids]
    return subprocess.run(run, capture_output=True, text=True, env={**base, **env}, check=True, timeout=60).stdout


def test_an_allowed_download_goes_to_the_hub_and_the_users_offline_switch_vetoes_it(tmp_path):
    """Nothing here can download: the hub's address is a closed local port, so an allowed download is seen trying
    the network (and failing clearly), where a refused one never does."""
    env = {"HF_HUB_CACHE": str(tmp_path), "HF_ENDPOINT": "http://127.0.0.1:9", hub.ALLOW_DOWNLOAD_ENV: "1"}
    out = _resolve_in_fresh_process(env)
    assert "cannot download google-t5/t5-small: the hub could not be reached (ConnectError" in out
    assert "HF_HUB_OFFLINE is set, so downloads are off" in _resolve_in_fresh_process({**env, "HF_HUB_OFFLINE": "1"})
    assert "and downloads are off" in _resolve_in_fresh_process({**env, hub.ALLOW_DOWNLOAD_ENV: "0"})


def test_an_allowed_download_fills_the_cache_as_huggingface_hub_does(tmp_path):
    """The download itself, through huggingface_hub's client against a local stand-in for the hub (fake_hub.py):
    the snapshot, blobs and refs/main land in HF_HUB_CACHE, progress is reported on stderr, and the next run needs
    no network (a resolve offline finds the same snapshot)."""
    commit = "c" * 40
    source = tmp_path / "served"
    source.mkdir()
    for name in ("config.json", "tokenizer_config.json", "vocab.txt"):
        shutil.copyfile(default_backbone_path() / name, source / name)
    server = fake_hub.serve("org/tiny", commit, source, gated=("meta-llama/Llama-3.2-1B",))
    cache = tmp_path / "hub"
    code = "from ladderlab.hub import resolve_model; print(resolve_model('org/tiny', None))"
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_HUB_CACHE=str(cache), HF_ENDPOINT=f"http://127.0.0.1:{server.server_port}")
    env[hub.ALLOW_DOWNLOAD_ENV] = "1"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
        refusals = _resolve_in_fresh_process(env, "meta-llama/Llama-3.2-1B", "org/absent")
    finally:
        server.shutdown()
    assert "meta-llama/Llama-3.2-1B is a gated model" in refusals and "hf auth login" in refusals
    assert "no model org/absent on the Hugging Face hub" in refusals
    assert done.returncode == 0, done.stderr
    repo = cache / "models--org--tiny"
    assert Path(done.stdout.strip()) == repo / "snapshots" / commit
    assert (repo / "refs" / "main").read_text() == commit
    assert sorted(p.name for p in (repo / "snapshots" / commit).iterdir()) == sorted(p.name for p in source.iterdir())
    assert (repo / "snapshots" / commit / "vocab.txt").read_bytes() == (source / "vocab.txt").read_bytes()
    assert "ladderlab: downloading org/tiny:" in done.stderr and "100%" in done.stderr
    offline = {k: v for k, v in env.items() if k != hub.ALLOW_DOWNLOAD_ENV}
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=offline, timeout=60)
    assert Path(again.stdout.strip()) == repo / "snapshots" / commit, again.stderr
