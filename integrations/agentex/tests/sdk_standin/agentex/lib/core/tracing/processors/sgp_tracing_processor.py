# Stand-in (see agentex/__init__.py): from
# src/agentex/lib/core/tracing/processors/sgp_tracing_processor.py only what decides the data
# the SDK sends to SGP: __init__'s env_vars and _add_source_to_span, verbatim; no SGP client.
from agentex.types.span import Span
from agentex.lib.types.tracing import SGPTracingProcessorConfig
from agentex.lib.environment_variables import EnvironmentVariables
from agentex.lib.core.tracing.processors.tracing_processor_interface import SyncTracingProcessor


class SGPSyncTracingProcessor(SyncTracingProcessor):
    def __init__(self, config: SGPTracingProcessorConfig):
        self.env_vars = EnvironmentVariables.refresh()

    def _add_source_to_span(self, span: Span) -> None:
        if span.data is None:
            span.data = {}
        if isinstance(span.data, dict):
            span.data["__source__"] = "agentex"
            if self.env_vars.ACP_TYPE is not None:
                span.data["__acp_type__"] = self.env_vars.ACP_TYPE
            if self.env_vars.AGENT_NAME is not None:
                span.data["__agent_name__"] = self.env_vars.AGENT_NAME
            if self.env_vars.AGENT_ID is not None:
                span.data["__agent_id__"] = self.env_vars.AGENT_ID

    def on_span_start(self, span: Span) -> None:
        self._add_source_to_span(span)

    def on_span_end(self, span: Span) -> None:
        self._add_source_to_span(span)

    def shutdown(self) -> None:
        pass
