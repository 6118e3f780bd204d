#!/usr/bin/env bash
# The S3EventProcessor exercise, step by step, with the plain AWS CLI (v1 or v2) against Sluice.
#
#   sluice up --time-scale 60          # in another terminal; 60 turns the 1 and 2 minute retry gaps into seconds
#   ./walkthrough.sh                   # SLUICE=http://127.0.0.1:4566 by default
#
# With IAM enforcement, the function's own S3 calls are checked against its execution role, and
# a last step shows what a missing permission does:
#
#   sluice up --time-scale 60 --enforce-iam
#   ENFORCE_IAM=1 ./walkthrough.sh
#
# Run it against a fresh server (it creates the function, the queue and the bucket).
set -euo pipefail

SLUICE="${SLUICE:-http://127.0.0.1:4566}"
ACCOUNT="${ACCOUNT:-000000000000}"
REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_DEFAULT_REGION="$REGION" AWS_PAGER=""
HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

BUCKET=bucket-evenement-lambda
FUNCTION=S3EventProcessor
step() { printf '\n== %s\n' "$*"; }

if [ "${ENFORCE_IAM:-0}" = "1" ]; then
    # Step 9 needs a server that checks permissions; find out now rather than after eight steps.
    if AWS_ACCESS_KEY_ID=AKIANOSUCHKEY0000000 AWS_SECRET_ACCESS_KEY=x \
            aws --endpoint-url "$SLUICE" sts get-caller-identity >/dev/null 2>&1; then
        echo "this server accepts any access key: it does not enforce IAM (start it with sluice up --enforce-iam)" >&2
        exit 1
    fi
fi

step "1. Create the bucket $BUCKET"
aws --endpoint-url "$SLUICE" s3 mb "s3://$BUCKET"

step "2. Create the execution role S3EventProcessorRole and the function $FUNCTION (python3.12, handler.lambda_handler)"
cat > "$WORK/trust.json" <<JSON
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                          "Action": "sts:AssumeRole"}]}
JSON
cat > "$WORK/dlq.json" <<JSON
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage",
                                          "Resource": "arn:aws:sqs:$REGION:$ACCOUNT:LambdaDLQ"}]}
JSON
aws --endpoint-url "$SLUICE" iam create-role --role-name S3EventProcessorRole \
    --assume-role-policy-document "file://$WORK/trust.json" --query Role.Arn --output text
for policy in AmazonS3ReadOnlyAccess service-role/AWSLambdaBasicExecutionRole; do
    aws --endpoint-url "$SLUICE" iam attach-role-policy --role-name S3EventProcessorRole \
        --policy-arn "arn:aws:iam::aws:policy/$policy"
done
aws --endpoint-url "$SLUICE" iam put-role-policy --role-name S3EventProcessorRole --policy-name dlq \
    --policy-document "file://$WORK/dlq.json"
(cd "$HERE" && python3 -m zipfile -c "$WORK/function.zip" handler.py)
aws --endpoint-url "$SLUICE" lambda create-function --function-name "$FUNCTION" \
    --runtime python3.12 --handler handler.lambda_handler \
    --role "arn:aws:iam::$ACCOUNT:role/S3EventProcessorRole" \
    --zip-file "fileb://$WORK/function.zip" \
    --query '{FunctionArn: FunctionArn, State: State}' --output table
FUNCTION_ARN="arn:aws:lambda:$REGION:$ACCOUNT:function:$FUNCTION"

step "3. Create the SQS queue LambdaDLQ and make it the function's dead-letter queue"
QUEUE_URL=$(aws --endpoint-url "$SLUICE" sqs create-queue --queue-name LambdaDLQ --query QueueUrl --output text)
QUEUE_ARN=$(aws --endpoint-url "$SLUICE" sqs get-queue-attributes --queue-url "$QUEUE_URL" \
    --attribute-names QueueArn --query Attributes.QueueArn --output text)
echo "queue: $QUEUE_URL ($QUEUE_ARN)"
aws --endpoint-url "$SLUICE" lambda update-function-configuration --function-name "$FUNCTION" \
    --dead-letter-config "TargetArn=$QUEUE_ARN" --query DeadLetterConfig --output text

step "4. Asynchronous invocation: 2 retries, events kept at most 1 hour"
aws --endpoint-url "$SLUICE" lambda put-function-event-invoke-config --function-name "$FUNCTION" \
    --maximum-retry-attempts 2 --maximum-event-age-in-seconds 3600 \
    --query '{MaximumRetryAttempts: MaximumRetryAttempts, MaximumEventAgeInSeconds: MaximumEventAgeInSeconds}' \
    --output table

step "5. Let S3 invoke the function, then send it s3:ObjectCreated:Put events"
aws --endpoint-url "$SLUICE" lambda add-permission --function-name "$FUNCTION" \
    --statement-id s3-invoke --action lambda:InvokeFunction --principal s3.amazonaws.com \
    --source-arn "arn:aws:s3:::$BUCKET" --source-account "$ACCOUNT" --query Statement --output text
cat > "$WORK/notification.json" <<JSON
{"LambdaFunctionConfigurations": [{"Id": "s3-event-processor", "LambdaFunctionArn": "$FUNCTION_ARN",
                                   "Events": ["s3:ObjectCreated:Put"]}]}
JSON
aws --endpoint-url "$SLUICE" s3api put-bucket-notification-configuration --bucket "$BUCKET" \
    --notification-configuration "file://$WORK/notification.json"
aws --endpoint-url "$SLUICE" s3api get-bucket-notification-configuration --bucket "$BUCKET"

step "6. Upload a text file: the function reads it and logs its content"
echo "Bonjour depuis Sluice : premier fichier traité." > "$WORK/bonjour.txt"
aws --endpoint-url "$SLUICE" s3 cp --no-progress "$WORK/bonjour.txt" "s3://$BUCKET/bonjour.txt"
for _ in $(seq 60); do
    if sluice logs "$FUNCTION" --endpoint "$SLUICE" --since 10m | grep -q "Contenu du fichier bonjour.txt"; then
        break
    fi
    sleep 0.5
done
sluice logs "$FUNCTION" --endpoint "$SLUICE" --since 10m

step "7. Upload a file that is not UTF-8: decode() fails, Lambda retries twice, then the event goes to LambdaDLQ"
printf '\xff\xd8\xff\xe0 not utf-8 \x80\x81\n' > "$WORK/image.bin"
aws --endpoint-url "$SLUICE" s3 cp --no-progress "$WORK/image.bin" "s3://$BUCKET/image.bin"
echo "waiting for the DLQ message (3 attempts, 1 and 2 minutes apart; seconds with --time-scale 60) ..."
MESSAGE=""
for _ in $(seq 20); do
    MESSAGE=$(aws --endpoint-url "$SLUICE" sqs receive-message --queue-url "$QUEUE_URL" \
        --message-attribute-names All --attribute-names All --wait-time-seconds 20)
    [ -n "$MESSAGE" ] && break
done
if [ -z "$MESSAGE" ]; then
    echo "no message in LambdaDLQ" >&2
    exit 1
fi
echo "$MESSAGE"

step "8. The failed attempts in CloudWatch Logs"
sluice logs "$FUNCTION" --endpoint "$SLUICE" --since 10m --filter-pattern '"image.bin"'

if [ "${ENFORCE_IAM:-0}" != "1" ]; then
    echo
    echo "(step 9, the exercise's own failure test, runs with ENFORCE_IAM=1 against sluice up --enforce-iam)"
    exit 0
fi

step "9. The exercise's failure test (--enforce-iam): take S3 read access away from the function's role"
# Step 7's image.bin event is still in LambdaDLQ and would fail again when redriven: empty the queue.
aws --endpoint-url "$SLUICE" sqs purge-queue --queue-url "$QUEUE_URL"
echo "-- detach AmazonS3ReadOnlyAccess from S3EventProcessorRole; what stays attached:"
aws --endpoint-url "$SLUICE" iam detach-role-policy --role-name S3EventProcessorRole \
    --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess
aws --endpoint-url "$SLUICE" iam list-attached-role-policies --role-name S3EventProcessorRole \
    --query 'AttachedPolicies[].PolicyName' --output text

echo "-- upload refused.txt: the function's s3.get_object is denied, Lambda retries twice, then LambdaDLQ"
echo "Lu après le redrive : le rôle peut de nouveau lire le bucket." > "$WORK/refused.txt"
aws --endpoint-url "$SLUICE" s3 cp --no-progress "$WORK/refused.txt" "s3://$BUCKET/refused.txt"
MESSAGE=""
for _ in $(seq 20); do
    # --visibility-timeout 0: look at the message but leave it in the queue for the redrive
    MESSAGE=$(aws --endpoint-url "$SLUICE" sqs receive-message --queue-url "$QUEUE_URL" \
        --visibility-timeout 0 --wait-time-seconds 20 --query 'Messages[0].MessageId' --output text)
    [ -n "$MESSAGE" ] && [ "$MESSAGE" != "None" ] && break
done
if [ -z "$MESSAGE" ] || [ "$MESSAGE" = "None" ]; then
    echo "no message in LambdaDLQ for refused.txt" >&2
    exit 1
fi

echo "-- AccessDenied in CloudWatch Logs, once per attempt (the retries came 1 then 2 minutes later; seconds here):"
sluice logs "$FUNCTION" --endpoint "$SLUICE" --since 10m \
    --filter-pattern '"Erreur lors du traitement du fichier refused.txt"'

echo "-- the attempts, the waits between them and the outcome (sluice trace $BUCKET/refused.txt):"
sluice trace "$BUCKET/refused.txt" --endpoint "$SLUICE" | grep -v '^ *| '   # without the log lines shown above

echo "-- the event in LambdaDLQ: its message attributes"
aws --endpoint-url "$SLUICE" sqs receive-message --queue-url "$QUEUE_URL" --visibility-timeout 0 \
    --message-attribute-names All --query 'Messages[0].MessageAttributes'

echo "-- attach AmazonS3ReadOnlyAccess again, then replay LambdaDLQ through the function"
aws --endpoint-url "$SLUICE" iam attach-role-policy --role-name S3EventProcessorRole \
    --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess
sluice dlq redrive LambdaDLQ --to "$FUNCTION" --endpoint "$SLUICE"

echo "-- this time the function read the file:"
for _ in $(seq 60); do
    if sluice logs "$FUNCTION" --endpoint "$SLUICE" --since 10m | grep -q "Contenu du fichier refused.txt"; then
        break
    fi
    sleep 0.5
done
sluice logs "$FUNCTION" --endpoint "$SLUICE" --since 10m --filter-pattern '"Contenu du fichier refused.txt"'
