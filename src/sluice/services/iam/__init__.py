from .checks import checked
from .service import IamService

__all__ = ["IamService", "checked"]
