from .service import QueueDepth, SqsService

__all__ = ["QueueDepth", "SqsService"]
