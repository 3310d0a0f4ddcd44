"""Secret managers: flytekit's naming, and no value ever in an error."""

from __future__ import annotations

from pathlib import Path

import pytest
from flyteidl.core import security_pb2

from plugins.core import (
    ChainedSecretManager,
    EnvSecretManager,
    FileSecretManager,
    SecretManager,
    secret_key,
)
from plugins.errors import SecretNotFoundError


def test_env_secret_naming_and_lookup() -> None:
    env = {"_FSEC_AWS_ACCESS_KEY": "s3cr3t", "_FSEC_TOKEN": "tok"}
    manager = EnvSecretManager(environ=env)
    assert isinstance(manager, SecretManager)
    assert manager.variable_name("aws/access-key") == "_FSEC_AWS_ACCESS_KEY"
    assert manager.get("aws/access-key") == "s3cr3t"
    assert manager.get("token") == "tok"


def test_env_secret_missing_names_the_variable() -> None:
    manager = EnvSecretManager(prefix="MY_", environ={})
    with pytest.raises(SecretNotFoundError) as info:
        manager.get("group/key")
    assert "MY_GROUP_KEY" in str(info.value)
    assert isinstance(info.value, LookupError)


def test_file_secrets(tmp_path: Path) -> None:
    (tmp_path / "aws").mkdir()
    (tmp_path / "aws" / "access-key").write_text("v@lue\n")
    manager = FileSecretManager(tmp_path)
    assert manager.get("AWS/Access-Key") == "v@lue"
    with pytest.raises(SecretNotFoundError, match="no file at"):
        manager.get("aws/missing")
    with pytest.raises(SecretNotFoundError, match=r"\.\."):
        manager.get("../etc/passwd")


def test_chain_returns_first_hit_and_reports_all_misses(tmp_path: Path) -> None:
    (tmp_path / "only-file").write_text("from-file")
    chain = ChainedSecretManager(
        EnvSecretManager(environ={"_FSEC_X": "from-env"}), FileSecretManager(tmp_path)
    )
    assert chain.get("x") == "from-env"
    assert chain.get("only-file") == "from-file"
    with pytest.raises(SecretNotFoundError) as info:
        chain.get("nowhere")
    assert "_FSEC_NOWHERE" in str(info.value) and str(tmp_path) in str(info.value)


def test_errors_never_contain_values(tmp_path: Path) -> None:
    secret = "do-not-print-me"
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "key").mkdir()  # a directory where a file is expected
    for manager, key in (
        (EnvSecretManager(environ={"_FSEC_OTHER": secret}), "missing"),
        (FileSecretManager(tmp_path), "dir/key"),
    ):
        with pytest.raises(SecretNotFoundError) as info:
            manager.get(key)
        assert secret not in str(info.value)


def test_secret_key_from_flyteidl() -> None:
    assert secret_key(security_pb2.Secret(group="g", key="k")) == "g/k"
    assert secret_key(security_pb2.Secret(key="k")) == "k"
