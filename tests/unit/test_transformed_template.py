"""template.yaml as CloudFormation receives it: transformed by SAM's own translator (the one the SAM CLI
uses), linted by cfn-lint as plain CloudFormation (which catches what `sam validate --lint` no longer
expands, such as a queue's visibility timeout below its consumer's timeout), and checked against the
rules a deploy that works the first time relies on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parents[2]
PARAMETERS = {"JwtIssuer": "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0",
              "JwtAudience": "api://inventory-sync", "DatabaseSecretArn":
              "arn:aws:secretsmanager:eu-west-1:123456789012:secret:invsync-db-AbCdEf",
              "SubnetIds": "subnet-0123456789abcdef0", "SecurityGroupIds": "sg-0123456789abcdef0"}
DATABASE_FUNCTIONS = ("DispatchFunction", "RunSyncFunction", "FinalizeFunction", "MigrateFunction")


class _NoManagedPolicies:
    """The template names managed policies by ARN only; nothing to look up in IAM."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def transformed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import os

    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    for name, resource in template["Resources"].items():  # what `sam deploy` uploads and points at
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in props:
                props[key] = f"s3://sam-artifacts-bucket/{name}.zip"
    return json.loads(json.dumps(transform(template, {}, _NoManagedPolicies()), default=str))


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def _value(template: dict[str, Any], value: Any) -> Any:
    """A property as deployed with the test parameters: Refs to parameters resolved to their defaults."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in template.get("Parameters", {}):
        parameter = template["Parameters"][value["Ref"]]
        return PARAMETERS.get(value["Ref"], parameter.get("Default"))
    return value


def _target(value: Any) -> str:
    """The logical id a Ref / GetAtt points at."""
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"]
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        att = value["Fn::GetAtt"]
        return att[0] if isinstance(att, list) else att.split(".")[0]
    raise AssertionError(f"not a reference: {value}")


def _function(template: dict[str, Any], value: Any) -> str:
    """The function a FunctionName points at, through its alias when it has one (AutoPublishAlias)."""
    target = _target(value)
    resource = template["Resources"][target]
    return _target(resource["Properties"]["FunctionName"]) if resource["Type"] == "AWS::Lambda::Alias" else target


def test_cfn_lint_passes_on_the_transformed_template(transformed: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "transformed.json"
    path.write_text(json.dumps(transformed, indent=1))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), "--format", "parseable", str(path)],
                            capture_output=True, text=True, timeout=300)
    findings = [line for line in result.stdout.splitlines() if line.strip()]
    # SAM moves the CORS origins into the API's OpenAPI body, where cfn-lint does not look for the Ref
    known = [f for f in findings if ":W2001:Parameter CorsAllowOrigins not used" in f]
    assert result.returncode in (0, 4) and findings == known, result.stdout + result.stderr


def test_every_sqs_event_source_has_a_visibility_timeout_of_six_times_its_function(transformed) -> None:
    functions = _resources(transformed, "AWS::Lambda::Function")
    queues = _resources(transformed, "AWS::SQS::Queue")
    mappings = [m for m in _resources(transformed, "AWS::Lambda::EventSourceMapping").values()
                if "Fn::GetAtt" in m["Properties"]["EventSourceArn"]]
    assert len(mappings) == 3  # RunQueue → run_sync; FinalizeQueue and RunDLQ → finalize
    for mapping in mappings:
        queue = queues[_target(mapping["Properties"]["EventSourceArn"])]["Properties"]
        function = functions[_function(transformed, mapping["Properties"]["FunctionName"])]["Properties"]
        visibility = int(queue.get("VisibilityTimeout", 30))  # SQS's default when the template says nothing
        assert visibility >= 6 * int(function["Timeout"]), (mapping, visibility, function["Timeout"])


def _operations(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(path, method) -> the HTTP API's OpenAPI operation."""
    api = next(iter(_resources(template, "AWS::ApiGatewayV2::Api").values()))["Properties"]
    return {(path, method): op for path, item in api["Body"]["paths"].items() for method, op in item.items()
            if isinstance(op, dict) and "x-amazon-apigateway-integration" in op}


def test_every_function_reaching_postgresql_is_bounded(transformed) -> None:
    functions = _resources(transformed, "AWS::Lambda::Function")
    # every function gets the database's secret's ARN (Globals): the list above must name all that can read it;
    # the console function gets the variable too, but no permission to read the secret
    assert {n for n, f in functions.items() if "DATABASE_SECRET_ARN" in f["Properties"]["Environment"]["Variables"]
            } == {*DATABASE_FUNCTIONS, "ConsoleFunction"}
    console_role = transformed["Resources"][_target(functions["ConsoleFunction"]["Properties"]["Role"])]
    assert "secretsmanager" not in json.dumps(console_role["Properties"]).lower()
    mappings = _resources(transformed, "AWS::Lambda::EventSourceMapping").values()
    for name in DATABASE_FUNCTIONS:
        props = functions[name]["Properties"]
        fed = [m["Properties"] for m in mappings if _function(transformed, m["Properties"]["FunctionName"]) == name]
        assert "ReservedConcurrentExecutions" in props or (
            fed and all("MaximumConcurrency" in m.get("ScalingConfig", {}) for m in fed)), name
    stage = next(iter(_resources(transformed, "AWS::ApiGatewayV2::Stage").values()))["Properties"]
    assert {"ThrottlingRateLimit", "ThrottlingBurstLimit"} <= set(stage["DefaultRouteSettings"])


def test_the_api_integration_waits_at_most_29_seconds_and_dispatch_ends_before_it(transformed) -> None:
    functions = _resources(transformed, "AWS::Lambda::Function")
    integrations = [op["x-amazon-apigateway-integration"] for op in _operations(transformed).values()]
    # HTTP API's default (and maximum) integration timeout is 30 s; each function ends before its own
    assert integrations and all(i.get("timeoutInMillis", 30_000) <= 30_000 for i in integrations)
    dispatch = [i for i in integrations if "DispatchFunction" in json.dumps(i["uri"])]
    assert dispatch and all(i["timeoutInMillis"] <= 29_000 for i in dispatch)
    assert int(functions["DispatchFunction"]["Properties"]["Timeout"]) * 1000 < min(
        i["timeoutInMillis"] for i in dispatch)
    assert int(functions["ConsoleFunction"]["Properties"]["Timeout"]) * 1000 < 30_000


def test_only_the_console_pages_are_served_without_a_token(transformed) -> None:
    operations = _operations(transformed)
    open_routes = {key for key, op in operations.items() if op.get("security") != [{"EntraJwt": []}]}
    assert open_routes == {("/console", "get"), ("/console/{proxy+}", "get")}, open_routes
    for key in open_routes:
        assert operations[key]["security"] == [{"NONE": []}]
        assert "ConsoleFunction" in json.dumps(operations[key]["x-amazon-apigateway-integration"]["uri"])
    # everything else (the whole API, /openapi.json included) goes to dispatch behind the JWT authorizer
    assert {k for k in operations if k not in open_routes} == {("/{proxy+}", "x-amazon-apigateway-any-method")}
    console = _resources(transformed, "AWS::Lambda::Function")["ConsoleFunction"]["Properties"]
    variables = console["Environment"]["Variables"]
    assert variables["CONSOLE_AUTHORITY"] == {"Fn::Select": [0, {"Fn::Split": ["/v2.0", {"Ref": "JwtIssuer"}]}]}


def test_every_queue_is_drained_into_a_dead_letter_queue_or_is_one(transformed) -> None:
    queues = _resources(transformed, "AWS::SQS::Queue")
    dead_letter = {_target(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
                   for q in queues.values() if "RedrivePolicy" in q["Properties"]}
    schedules = _resources(transformed, "AWS::Scheduler::Schedule").values()
    dead_letter |= {_target(s["Properties"]["Target"]["DeadLetterConfig"]["Arn"]) for s in schedules
                    if "DeadLetterConfig" in s["Properties"]["Target"]}
    for name, queue in queues.items():
        assert "RedrivePolicy" in queue["Properties"] or name in dead_letter, name


def test_alarms_see_handled_failures(transformed) -> None:
    alarms = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"]
              for a in _resources(transformed, "AWS::CloudWatch::Alarm").values()}
    assert ("AWS/ApiGateway", "5xx") in alarms
    assert ("InventorySync", "RunsFailed") in alarms and ("InventorySync", "DeadLetteredRuns") in alarms
    age = alarms[("AWS/SQS", "ApproximateAgeOfOldestMessage")]
    assert _target(age["Dimensions"][0]["Value"]) == "RunQueue"
    depth = [a for (ns, metric), a in alarms.items() if metric == "ApproximateNumberOfMessagesVisible"]
    watched = {_target(a["Dimensions"][0]["Value"]) for a in depth}
    assert "FinalizeDLQ" in watched and "RunDLQ" not in watched  # finalize drains RunDLQ at once


def test_finalize_sends_to_no_queue(transformed) -> None:
    role = _resources(transformed, "AWS::IAM::Role")["FinalizeFunctionRole"]["Properties"]
    actions = json.dumps(role.get("Policies", []))
    assert "sqs:SendMessage" not in actions


def test_the_schema_migrates_on_every_deploy_before_the_code_that_needs_it(transformed) -> None:
    migration = transformed["Resources"]["SchemaMigration"]
    props = migration["Properties"]
    assert migration["Type"].startswith("Custom::")
    assert _target(props["ServiceToken"]) == "MigrateFunction"
    # a new layer version (new migrations) changes the property, so CloudFormation sends an Update
    layer = _target(props["SchemaVersion"])
    assert transformed["Resources"][layer]["Type"] == "AWS::Lambda::LayerVersion"
    assert int(props["ServiceTimeout"]) * 1000 > int(
        transformed["Resources"]["MigrateFunction"]["Properties"]["Timeout"]) * 1000
    for name in ("DispatchFunction", "RunSyncFunction", "FinalizeFunction"):
        assert "SchemaMigration" in transformed["Resources"][name].get("DependsOn", []), name


def test_the_sample_samconfig_names_only_parameters_the_template_has() -> None:
    import tomllib

    sample = tomllib.loads((ROOT / "samconfig.example.toml").read_text())
    overrides = sample["default"]["deploy"]["parameters"]["parameter_overrides"]
    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    named = [entry.split("=", 1)[0] for entry in overrides]
    assert named and set(named) <= set(template["Parameters"])
    required = {name for name, p in template["Parameters"].items() if "Default" not in p}
    assert required <= set(named), required - set(named)


def test_dispatch_restores_from_a_snapshot_and_every_trigger_calls_the_published_alias(transformed) -> None:
    functions = _resources(transformed, "AWS::Lambda::Function")
    # switchable per stack (a region without SnapStart refuses the property); on by default
    assert functions["DispatchFunction"]["Properties"]["SnapStart"] == {
        "Fn::If": ["SnapStartOn", {"ApplyOn": "PublishedVersions"}, {"Ref": "AWS::NoValue"}]}
    assert transformed["Parameters"]["SnapStart"]["Default"] == "true"
    for name in ("RunSyncFunction", "FinalizeFunction"):  # a parameter, off by default
        assert functions[name]["Properties"]["SnapStart"]["Fn::If"][0] == "SnapStartWorkersOn"
    assert transformed["Parameters"]["SnapStartWorkers"]["Default"] == "None"
    assert transformed["Conditions"]["SnapStartWorkersOn"]["Fn::And"][0] == {"Condition": "SnapStartOn"}
    aliases = {_target(a["Properties"]["FunctionName"]): a for a in
               _resources(transformed, "AWS::Lambda::Alias").values()}
    assert {"DispatchFunction", "RunSyncFunction", "FinalizeFunction"} <= set(aliases)
    # SnapStart applies to published versions only: queues, schedules and the API must invoke the alias
    def kind(value: Any) -> str:
        return transformed["Resources"][_target(value)]["Type"]

    for mapping in _resources(transformed, "AWS::Lambda::EventSourceMapping").values():
        assert kind(mapping["Properties"]["FunctionName"]) == "AWS::Lambda::Alias"
    for schedule in _resources(transformed, "AWS::Scheduler::Schedule").values():
        assert kind(schedule["Properties"]["Target"]["Arn"]) == "AWS::Lambda::Alias"
    uri = json.dumps(_operations(transformed)[("/{proxy+}", "x-amazon-apigateway-any-method")]
                     ["x-amazon-apigateway-integration"]["uri"])
    assert "DispatchFunctionAliaslive" in uri
