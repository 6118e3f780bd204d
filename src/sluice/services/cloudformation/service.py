"""CloudFormation: stacks from templates, change sets, exports (the query protocol's
`cloudformation`). No HTTP, no threads, no waits: members in, members out. The deploying
itself is the engine's (engine/stacks.py), over the work rows the operations record.

- stacks.py: CreateStack, UpdateStack, DeleteStack and the descriptions of stacks, their
  events and resources; changesets.py: the change sets; templates_api.py: GetTemplate,
  GetTemplateSummary, ValidateTemplate, ListExports, ListImports;
- template.py (JSON/YAML), intrinsics.py, parameters.py, plan.py: reading a template;
- intake.py: a template as an operation receives it (TemplateURL, the SAM transform, capabilities);
- providers/: the resource types, each calling the other services' public operations;
- records.py: every SQL statement.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from ...clock import Clock
from ...store import Store
from ..base import Service
from . import records
from .changesets import ChangeSets
from .intake import Expand, Templates
from .shared import Shared
from .stacks import Stacks
from .templates_api import TemplateApi


class CloudFormationService(Service):
    name = "cloudformation"

    def __init__(self, store: Store, clock: Clock, services: Mapping[str, Service], *,
                 replace_on: Callable[[str], frozenset[str] | None], wake: Callable[[], None],
                 expand: Expand | None = None, settled: Callable[[str, float], Awaitable[None]] | None = None) -> None:
        """`services`: the others (S3 for TemplateURL); `replace_on`: a resource type's properties
        whose change replaces it (None: unsupported type), from the providers; `wake`: called
        (from any thread) when a stack operation's work was committed; `expand`: the SAM transform;
        `settled`: awaits a stack's operation's end for at most N real seconds (ExecuteChangeSet)."""
        self.shared = Shared(store.db, clock, Templates(services, expand), wake, replace_on, settled)
        self.stacks = Stacks(self.shared)
        self.change_sets = ChangeSets(self.shared)
        self.templates = TemplateApi(self.shared)

    def operation_owners(self) -> Sequence[object]:
        return (self.stacks, self.change_sets, self.templates)

    def wake(self, stack_id: str) -> None:
        """A stack's waiting step may go on (a custom resource answered): run it now."""
        now = self.shared.now()
        self.shared.db.write(lambda conn: records.wake_work(conn, stack_id, now))
        self.shared.wake()
