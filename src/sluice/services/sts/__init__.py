from .service import StsService

__all__ = ["StsService"]
