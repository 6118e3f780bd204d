"""botocore's service models: the wire shapes of every operation, as boto3 itself uses them."""

from __future__ import annotations

from functools import cache

from botocore.loaders import Loader, create_loader
from botocore.model import ServiceModel


@cache
def model_loader() -> Loader:
    # The loader alone, not a botocore session: a session reads the user's AWS config and
    # profile, and a server must not fail because AWS_PROFILE names a profile this machine lacks.
    return create_loader()


@cache
def service_model(name: str) -> ServiceModel:
    return ServiceModel(model_loader().load_service_model(name, "service-2"), service_name=name)
