from .service import CloudFormationService

__all__ = ["CloudFormationService"]
