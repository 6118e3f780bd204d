from .service import IamService

__all__ = ["IamService"]
