"""Validate ECS request JSON against botocore's service model.

usage: ecs_params.py OPERATION FILE [OPERATION FILE ...]
OPERATION is an ECS API operation such as RegisterTaskDefinition. Checks
types, unknown and required fields the way the AWS CLI would before sending.
"""
import json
import sys

import botocore.session
from botocore.validate import ParamValidator

model = botocore.session.get_session().get_service_model("ecs")
failed = False
args = sys.argv[1:]
for operation, path in zip(args[0::2], args[1::2]):
    with open(path) as f:
        params = json.load(f)
    report = ParamValidator().validate(params, model.operation_model(operation).input_shape)
    if report.has_errors():
        failed = True
        print(f"{path}: {report.generate_report()}")
sys.exit(1 if failed else 0)
