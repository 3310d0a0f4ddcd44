"""What a connector is given, built as Propeller builds it: metadata and rendered templates.

Shared by connectors in process and over gRPC, so both see the same
``TaskExecutionMetadata`` and the same rendered container arguments.
"""

from __future__ import annotations

from flyteidl.admin import agent_pb2
from flyteidl.core import tasks_pb2

from plugins.builtin.flytekit_task import render_args
from plugins.webapi import TaskExecutionContextReader

__all__ = ["rendered_template", "task_execution_metadata"]


def task_execution_metadata(ctx: TaskExecutionContextReader) -> agent_pb2.TaskExecutionMetadata:
    """The attempt's metadata, as Propeller sends it to a connector."""
    meta = ctx.task_execution_metadata
    tid = meta.task_execution_id
    node = tid.id.node_execution_id.execution_id
    return agent_pb2.TaskExecutionMetadata(
        task_execution_id=tid.id,
        namespace=meta.namespace or f"{node.project}-{node.domain}",
        labels=dict(meta.labels),
        annotations=dict(meta.annotations),
        k8s_service_account=meta.service_account,
        environment_variables=dict(meta.environment_variables),
        max_attempts=meta.max_attempts,
        interruptible=meta.interruptible,
        interruptible_failure_threshold=meta.interruptible_failure_threshold,
    )


def rendered_template(ctx: TaskExecutionContextReader) -> tasks_pb2.TaskTemplate:
    """The task template, with its container's arguments rendered (Propeller's variables).

    A connector that runs a container (Airflow's, a Databricks job) gets the real
    input, output and raw-data locations of the attempt, as under Propeller.
    """
    template = ctx.task_reader.read()
    if not template.HasField("container") or not template.container.args:
        return template
    meta = ctx.task_execution_metadata
    node = meta.task_execution_id.id.node_execution_id.execution_id
    writer = ctx.output_writer
    values = {
        "input": ctx.input_reader.get_input_path(),
        "inputPrefix": ctx.input_reader.get_input_prefix_path(),
        "outputPrefix": writer.get_output_prefix_path(),
        "rawOutputDataPrefix": writer.get_raw_output_prefix(),
        "checkpointOutputPrefix": writer.get_checkpoint_prefix(),
        "prevCheckpointPrefix": writer.get_previous_checkpoints_prefix() or '""',
        "PerRetryUniqueKey": meta.task_execution_id.generated_name,
        "Namespace": f"{node.project}-{node.domain}",
    }
    rendered = tasks_pb2.TaskTemplate()
    rendered.CopyFrom(template)
    args = render_args(list(template.container.args), values, ctx.input_reader.get())
    del rendered.container.args[:]
    rendered.container.args.extend(args)
    return rendered
