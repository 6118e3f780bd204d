"""S3's durable state: the tables (schema), the records (models), and one module of SQL per subject.

Business rules call these typed functions inside their own transactions (`Database.write`) or on
a reader; no SQL lives outside this package.
"""

from .models import (
           STORED_HEADERS,
           BucketRecord,
           BucketTotals,
           BucketView,
           ObjectRecord,
           PartRecord,
           UploadRecord,
)
from .schema import LIFECYCLE_MIGRATIONS, MIGRATIONS, OUTBOX_MIGRATIONS

__all__ = ["LIFECYCLE_MIGRATIONS", "MIGRATIONS", "OUTBOX_MIGRATIONS", "STORED_HEADERS", "BucketRecord", "BucketTotals", "BucketView", "ObjectRecord", "PartRecord",
           "UploadRecord"]
