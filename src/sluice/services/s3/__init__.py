from .service import S3Service

__all__ = ["S3Service"]
