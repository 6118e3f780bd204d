from .outbox import DueRun, NotificationOutbox
from .service import S3Service

__all__ = ["DueRun", "NotificationOutbox", "S3Service"]
