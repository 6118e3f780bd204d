"""Every schema step of the store, in the one order they apply.

Each module that owns tables lists its steps in a MIGRATIONS tuple; nothing is registered by
importing it. A step runs once per data dir and never changes once released. This order is the
order in which a new data dir gets its tables and an old one gets the steps it lacks, so a step
may depend only on steps before it; released steps keep their place (tests/test_schema.py pins
it) and a module's new step goes after its last one.
"""

from __future__ import annotations

from .engine import invoker, journal, metrics
from .services.cloudformation import custom_records as cloudformation_custom_records
from .services.cloudformation import migrations as cloudformation_migrations
from .services.cloudwatch import alarms
from .services.events import records as events_records
from .services.iam import migrations as iam_migrations
from .services.lambda_ import layer_records as lambda_layer_records
from .services.lambda_ import records as lambda_records
from .services.logs import migrations as logs_migrations
from .services.s3 import records as s3_records
from .services.sns import records as sns_records
from .services.sqs import records as sqs_records
from .store.db import Migration

SCHEMA: tuple[Migration, ...] = (
    *journal.MIGRATIONS,
    *metrics.MIGRATIONS,
    *invoker.MIGRATIONS,
    *alarms.MIGRATIONS,
    *events_records.MIGRATIONS,
    *iam_migrations.MIGRATIONS,
    *lambda_records.MIGRATIONS,
    *logs_migrations.MIGRATIONS,
    *s3_records.MIGRATIONS,
    *sns_records.MIGRATIONS,
    *sqs_records.MIGRATIONS,
    *lambda_layer_records.MIGRATIONS,
    *cloudformation_migrations.MIGRATIONS,
    *cloudformation_custom_records.MIGRATIONS,
    *s3_records.LIFECYCLE_MIGRATIONS,
    *s3_records.OUTBOX_MIGRATIONS,
    *sqs_records.VISIBILITY_MIGRATIONS,
)
