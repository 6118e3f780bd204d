"""CloudWatch. Importing a module of this package (its records, for the schema) does not import
the service itself: sluice.services.cloudwatch.service is imported where it is built."""
