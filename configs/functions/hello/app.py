"""The quickstart's function: an ordinary Lambda handler for an HTTP API (payload format 2.0).

Portico runs it unchanged on this machine through AWS's Python runtime interface client
(`python3 -m pip install awslambdaric`), the way Lambda would run it.
"""
import json


def handler(event, context):
    name = (event.get("queryStringParameters") or {}).get("name", "world")
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({
            "message": f"hello, {name}",
            "path": event["rawPath"],
            "method": event["requestContext"]["http"]["method"],
            "function": context.function_name,
            "request_id": context.aws_request_id,
        }),
    }
