from .service import SnsService

__all__ = ["SnsService"]
