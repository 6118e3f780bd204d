"""S3's durable state: the tables (schema), the records (models), and one module of SQL per subject.

Business rules call these typed functions inside their own transactions (`Database.write`) or on
a reader; no SQL lives outside this package.
"""

from .models import (
           STORED_HEADERS,
           BucketRecord,
           BucketTotals,
           ObjectRecord,
           PartRecord,
           UploadRecord,
)
from .schema import MIGRATIONS

__all__ = ["MIGRATIONS", "STORED_HEADERS", "BucketRecord", "BucketTotals", "ObjectRecord", "PartRecord",
           "UploadRecord"]
