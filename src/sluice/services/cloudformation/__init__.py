"""CloudFormation. Importing a module of this package (its records, for the schema) does not import
the service itself: sluice.services.cloudformation.service is imported where it is built."""
