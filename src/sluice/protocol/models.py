"""botocore's service models: the wire shapes of every operation, as boto3 itself uses them."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.loaders import Loader
    from botocore.model import ServiceModel


@cache
def model_loader() -> Loader:
    # The loader alone, not a botocore session: a session reads the user's AWS config and
    # profile, and a server must not fail because AWS_PROFILE names a profile this machine lacks.
    # Imported here: botocore's loader and model modules cost a sixth of a second and several
    # MB, paid when a service first needs its model rather than at start-up.
    from botocore.loaders import create_loader

    return create_loader()


@cache
def service_model(name: str) -> ServiceModel:
    from botocore.model import ServiceModel

    return ServiceModel(model_loader().load_service_model(name, "service-2"), service_name=name)
