"""S3. Importing a module of this package (its records, for the schema) does not import
the service itself: sluice.services.s3.service is imported where it is built."""
