"""S3EventProcessor: reads the object that was just uploaded and logs its content.

Ordinary Lambda code: it runs unchanged on AWS and on Sluice (where AWS_ENDPOINT_URL, set in
every execution environment, points boto3 at Sluice).
"""

import json
import logging
from urllib.parse import unquote_plus

import boto3

# Configurer les logs
logger = logging.getLogger()
logger.setLevel(logging.INFO)

s3 = boto3.client("s3")


def lambda_handler(event, context):
    key = None
    try:
        # Récupérer les informations de l'événement S3
        record = event["Records"][0]["s3"]
        bucket = record["bucket"]["name"]
        key = unquote_plus(record["object"]["key"])  # keys arrive URL-encoded in S3 events

        logger.info(f"Traitement du fichier : {key} depuis le bucket : {bucket}")

        # Lire le contenu du fichier
        response = s3.get_object(Bucket=bucket, Key=key)
        file_content = response["Body"].read().decode("utf-8")

        # Logguer le contenu du fichier
        logger.info(f"Contenu du fichier {key} : {file_content}")

        return {"statusCode": 200, "body": json.dumps("Fichier traité avec succès")}

    except Exception as e:
        logger.error(f"Erreur lors du traitement du fichier {key} : {e}")
        raise
