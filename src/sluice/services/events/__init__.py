from .service import EventsService

__all__ = ["EventsService"]
