from .outbox import NotificationOutbox
from .records.notifications import OutboxEntry
from .service import S3Service

__all__ = ["NotificationOutbox", "OutboxEntry", "S3Service"]
