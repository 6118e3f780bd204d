"""CloudFormation. Importing a module of this package (its records, for the schema) does not import
the service itself: sluice.services.cloudformation.service is imported where it is built."""

# Where a custom resource's handler PUTs its response (the ResponseURL; custom.py): the server
# routes it before anything of CloudFormation is loaded.
RESPONSE_PATH = "/_sluice/cloudformation/custom-resource-responses/"
