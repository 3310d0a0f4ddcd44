"""Output validation on success, in propeller's order."""

from __future__ import annotations

import pytest
from flyteidl.core import errors_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2

from plugins.core import ErrorKind, ExecutionError, Phase
from plugins.io import (
    DataStore,
    InMemoryOutputReader,
    RemoteFileOutputPaths,
    RemoteFileOutputReader,
    RemoteFileOutputWriter,
)
from plugins.io.validation import declares_outputs, phase_info_for_output_error, validate_output


@pytest.fixture
def paths(store_root: str) -> RemoteFileOutputPaths:
    return RemoteFileOutputPaths(f"{store_root}/out")


def outputs() -> literals_pb2.LiteralMap:
    lm = literals_pb2.LiteralMap()
    lm.literals["o"].scalar.primitive.string_value = "hi"
    return lm


def test_declares_outputs() -> None:
    template = tasks_pb2.TaskTemplate()
    assert not declares_outputs(template)
    template.interface.outputs.variables["o"].CopyFrom(
        interface_pb2.Variable(type=types_pb2.LiteralType(simple=types_pb2.STRING))
    )
    assert declares_outputs(template)


def test_no_reader() -> None:
    err = validate_output(None, outputs_declared=True)
    assert err is not None and err.code == "OutputsNotGenerated" and err.is_recoverable
    assert validate_output(None, outputs_declared=False) is None


def test_error_document_wins(store: DataStore, paths: RemoteFileOutputPaths) -> None:
    store.write_protobuf(paths.get_output_path(), outputs())
    store.write_protobuf(
        paths.get_error_path(),
        errors_pb2.ErrorDocument(error=errors_pb2.ContainerError(code="X", message="m")),
    )
    err = validate_output(RemoteFileOutputReader(store, paths), outputs_declared=False)
    assert err is not None and err.code == "X"


def test_no_declared_outputs_is_fine(store: DataStore, paths: RemoteFileOutputPaths) -> None:
    assert validate_output(RemoteFileOutputReader(store, paths), outputs_declared=False) is None


def test_missing_outputs(store: DataStore, paths: RemoteFileOutputPaths) -> None:
    err = validate_output(RemoteFileOutputReader(store, paths), outputs_declared=True)
    assert err is not None and err.code == "OutputsNotFound" and err.is_recoverable


def test_too_large_outputs_are_not_recoverable(
    store_root: str, paths: RemoteFileOutputPaths
) -> None:
    store = DataStore()
    store.write_protobuf(paths.get_output_path(), outputs())
    err = validate_output(
        RemoteFileOutputReader(store, paths, max_payload_size=2), outputs_declared=True
    )
    assert err is not None and err.code == "OutputSizeExceeded" and not err.is_recoverable
    assert "too large" in err.message


def test_file_outputs_pass_without_commit(store: DataStore, paths: RemoteFileOutputPaths) -> None:
    store.write_protobuf(paths.get_output_path(), outputs())
    assert validate_output(RemoteFileOutputReader(store, paths), outputs_declared=True) is None


def test_in_memory_outputs_are_committed(store: DataStore, paths: RemoteFileOutputPaths) -> None:
    committer = RemoteFileOutputWriter(store, paths)
    assert (
        validate_output(InMemoryOutputReader(outputs()), outputs_declared=True, committer=committer)
        is None
    )
    assert store.read_protobuf(paths.get_output_path(), literals_pb2.LiteralMap) == outputs()
    with pytest.raises(ValueError, match="committer"):
        validate_output(InMemoryOutputReader(outputs()), outputs_declared=True)


def test_in_memory_errors_are_returned() -> None:
    err = ExecutionError("E", "m", ErrorKind.SYSTEM, is_recoverable=False)
    assert validate_output(InMemoryOutputReader(err=err), outputs_declared=True) == err


def test_phase_info_for_output_error_keeps_kind() -> None:
    recoverable = ExecutionError("R", "m", ErrorKind.SYSTEM, is_recoverable=True)
    fatal = ExecutionError("F", "m", ErrorKind.USER)
    assert phase_info_for_output_error(recoverable).phase is Phase.RETRYABLE_FAILURE
    assert phase_info_for_output_error(recoverable).err == recoverable
    assert phase_info_for_output_error(fatal).phase is Phase.PERMANENT_FAILURE


def declared(**types: types_pb2.LiteralType) -> interface_pb2.VariableMap:
    interface = interface_pb2.VariableMap()
    for name, literal_type in types.items():
        interface.variables[name].type.CopyFrom(literal_type)
    return interface


STRING = types_pb2.LiteralType(simple=types_pb2.STRING)
INTS = types_pb2.LiteralType(collection_type=types_pb2.LiteralType(simple=types_pb2.INTEGER))


def test_outputs_that_fit_the_interface_pass(
    store: DataStore, paths: RemoteFileOutputPaths
) -> None:
    store.write_protobuf(paths.get_output_path(), outputs())
    reader = RemoteFileOutputReader(store, paths)
    assert validate_output(reader, outputs_declared=True, interface=declared(o=STRING)) is None


def test_outputs_of_another_type_fail_naming_each_mismatch(store: DataStore) -> None:
    # What a map_task run as one task returned: one element's int for its list[int].
    wrong = literals_pb2.LiteralMap()
    wrong.literals["o0"].scalar.primitive.integer = 1
    err = validate_output(
        InMemoryOutputReader(wrong), outputs_declared=True, interface=declared(o0=INTS, o1=STRING)
    )
    assert err is not None and err.code == "OutputsDoNotMatchInterface"
    assert err.kind is ErrorKind.USER and not err.is_recoverable
    assert "missing outputs: o1" in err.message
    assert "output 'o0': expected a collection, got integer" in err.message
    assert phase_info_for_output_error(err).phase is Phase.PERMANENT_FAILURE


def test_a_mismatch_is_found_before_anything_is_committed(
    store: DataStore, paths: RemoteFileOutputPaths
) -> None:
    committer = RemoteFileOutputWriter(store, paths)
    err = validate_output(
        InMemoryOutputReader(outputs()),
        outputs_declared=True,
        committer=committer,
        interface=declared(o=INTS),
    )
    assert err is not None and "output 'o': expected a collection, got string_value" in err.message
    assert not store.head(paths.get_output_path()).exists
