"""A minimal stand-in for the agentex SDK (scale-agentex-python), for the tests only.

The SDK cannot be installed where these tests run (no PyPI), so this package mirrors the
parts spanshipper_agentex uses, with the SDK's module paths, class names and signatures:
  agentex/types/span.py                                   Span
  agentex/_models.py                                      BaseModel (Stainless), pydantic v1 shims
  agentex/lib/types/tracing.py                            the processor configs
  agentex/lib/environment_variables.py                    EnvironmentVariables.refresh()
  agentex/lib/core/tracing/processors/tracing_processor_interface.py
                                                          SyncTracingProcessor, AsyncTracingProcessor
  agentex/lib/core/tracing/processors/sgp_tracing_processor.py
                                                          _add_source_to_span (no SGP client)
  agentex/lib/core/tracing/tracing_processor_manager.py   TracingProcessorManager and its globals
It is not the SDK: HTTP clients, dotenv loading and logging are left out. It runs on pydantic
v2 (which the SDK requires) and on v1 (Debian 12's python3-pydantic): under v1,
_models.BaseModel adds the v2 method names the processors call (model_dump_json, model_copy),
as the SDK's Stainless models do.
"""
