"""The request pipeline of DESIGN §1: every protocol's request runs the same stages, in this order.

authenticate → identify → suspension → rate limit → authorize → search → minimum necessary → alerts → audit.
Each stage is a small callable over a ``RequestContext`` that raises ``PmpError`` to refuse.
"""

from gateway.pipeline.context import RequestContext
from gateway.pipeline.runner import DisabledStage, Pipeline, Stage, build_pipeline

__all__ = ["DisabledStage", "Pipeline", "RequestContext", "Stage", "build_pipeline"]
