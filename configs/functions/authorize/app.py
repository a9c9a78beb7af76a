"""An API Gateway TOKEN authorizer, as it would run in AWS Lambda (awslambdaric runs it here).

`Bearer allow-<name>` may GET anything of the API; `Bearer admin-<name>` may do anything;
anything else is refused with AWS's `Unauthorized` error (a 401).
"""


def handler(event, context):
    token = event.get("authorizationToken", "")
    # arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}
    api_arn = event["methodArn"].split("/")[0]
    stage = event["methodArn"].split("/")[1]
    if token.startswith("Bearer allow-"):
        user, resource = token[len("Bearer allow-"):], f"{api_arn}/{stage}/GET/*"
    elif token.startswith("Bearer admin-"):
        user, resource = token[len("Bearer admin-"):], f"{api_arn}/{stage}/*"
    else:
        raise Exception("Unauthorized")
    return {
        "principalId": user,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resource}],
        },
        "context": {"user": user, "admin": token.startswith("Bearer admin-")},
    }
