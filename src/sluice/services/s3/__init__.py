from .outbox import NotificationOutbox
from .service import S3Service

__all__ = ["NotificationOutbox", "S3Service"]
