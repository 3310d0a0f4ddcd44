"""On-storage layout: Go's ioutils paths, raw output paths and shard selector tests."""

from __future__ import annotations

import hashlib

import pytest

from plugins.core import TaskExecutionID
from plugins.io import RemoteFileOutputPaths
from plugins.io.paths import (
    PrecomputedShardSelector,
    SimpleInputFilePaths,
    attempt_raw_output_prefix,
    base36_shard_selector,
    construct_checkpoint_path,
    fnv32a,
    generate_alphabet,
    generate_arabic_numerals,
    get_index_lookup_path,
    get_task_template_path,
    new_deterministic_unique_raw_output_path,
    new_raw_output_paths,
    new_sharded_deterministic_raw_output_path,
    new_sharded_raw_output_path,
    new_task_id_raw_output_path,
    previous_checkpoint_path,
)


@pytest.mark.parametrize("base", ["s3://b/base", "s3://b/base/"])
def test_checkpoint_path(base: str) -> None:
    assert construct_checkpoint_path(base) == "s3://b/base/_flytecheckpoints"


def test_empty_raw_prefix_means_no_checkpoint() -> None:
    assert construct_checkpoint_path("") == ""
    assert RemoteFileOutputPaths("s3://b/out").get_checkpoint_prefix() == ""


def test_file_names() -> None:
    assert get_task_template_path("s3://b/x") == "s3://b/x/task.pb"
    assert get_index_lookup_path("s3://b/x/") == "s3://b/x/indexlookup.pb"
    assert SimpleInputFilePaths("s3://b/in").get_input_path() == "s3://b/in/inputs.pb"
    paths = RemoteFileOutputPaths(
        "s3://b/out", new_raw_output_paths("s3://raw/p"), previous_checkpoint="s3://prev/c"
    )
    assert paths.get_output_path() == "s3://b/out/outputs.pb"
    assert paths.get_error_path() == "s3://b/out/error.pb"
    assert paths.get_deck_path() == "s3://b/out/deck.html"
    assert paths.get_futures_path() == "s3://b/out/futures.pb"
    assert paths.get_checkpoint_prefix() == "s3://raw/p/_flytecheckpoints"
    assert paths.get_previous_checkpoints_prefix() == "s3://prev/c"


def test_fnv32a_matches_go() -> None:
    # Reference values of FNV-1a 32 (offset basis for the empty input).
    assert fnv32a(b"") == 0x811C9DC5
    assert fnv32a(b"a") == 0xE40C292C
    assert fnv32a(b"foobar") == 0xBF9CF968


def test_alphabet_helpers_add_26_and_10() -> None:
    assert len(generate_alphabet([])) == 26
    assert len(generate_arabic_numerals(["x"])) == 11


def test_base36_selector() -> None:
    selector = base36_shard_selector()
    assert len(selector.shards) == 36 * 36
    assert selector.shards[:2] == ("aa", "ab") and selector.shards[-1] == "99"
    first = selector.get_shard_prefix(b"some-id")
    assert first == selector.get_shard_prefix(b"some-id")
    assert first == selector.shards[fnv32a(b"some-id") % 1296]


def test_one_shard_and_two_shards() -> None:
    assert PrecomputedShardSelector(["x"]).get_shard_prefix(b"anything") == "x"
    two = PrecomputedShardSelector(["x", "y"])
    assert two.get_shard_prefix(b"k") == ["x", "y"][fnv32a(b"k") % 2]
    with pytest.raises(ValueError, match="at least one"):
        PrecomputedShardSelector([])


def test_raw_output_path_variants() -> None:
    one = PrecomputedShardSelector(["x"])
    sha = hashlib.sha1(b"s3://bucket/metadata").hexdigest()
    assert new_raw_output_paths("x").get_raw_output_prefix() == "x"
    assert (
        new_sharded_deterministic_raw_output_path(one, "s3://bucket", "s3://bucket/metadata").path
        == f"s3://bucket/x/{sha}"
    )
    assert new_sharded_raw_output_path(one, "s3://flyte", "unique").path == "s3://flyte/x/unique"
    assert (
        new_deterministic_unique_raw_output_path("s3://bucket", "s3://bucket/metadata").path
        == f"s3://bucket/{sha}"
    )
    tid = TaskExecutionID.create(
        project="project", domain="domain", name="exec", node_id="n1", task_name="task1"
    )
    assert new_task_id_raw_output_path("s3://bucket", tid.id).path == (
        "s3://bucket/project/domain/exec/n1/0/task1"
    )


def test_sharder_errors_propagate() -> None:
    class Broken:
        def get_shard_prefix(self, key: bytes) -> str:
            raise RuntimeError("hash failure")

    with pytest.raises(RuntimeError, match="hash failure"):
        new_sharded_raw_output_path(Broken(), "s3://b", "id")
    with pytest.raises(RuntimeError, match="hash failure"):
        new_sharded_deterministic_raw_output_path(Broken(), "s3://b", "s3://b/m")


def test_attempt_prefixes_are_unique_sharded_and_chain_checkpoints() -> None:
    ids = [TaskExecutionID.create(project="p", domain="d", name="e", attempt=a) for a in range(3)]
    prefixes = [attempt_raw_output_prefix("s3://raw", t).path for t in ids]
    assert len(set(prefixes)) == 3
    for tid, prefix in zip(ids, prefixes, strict=True):
        base, shard, name = prefix.rsplit("/", 2)
        assert base == "s3://raw" and len(shard) == 2 and name == tid.generated_name
    assert previous_checkpoint_path("s3://raw", ids[0]) == ""
    assert previous_checkpoint_path("s3://raw", ids[0], "s3://old/ckpt") == "s3://old/ckpt"
    assert previous_checkpoint_path("s3://raw", ids[2]) == prefixes[1] + "/_flytecheckpoints"
