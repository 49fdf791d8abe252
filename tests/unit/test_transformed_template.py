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


# --- first contact with a customer's account (README "Deploy to AWS") ---------------------------------------

def _commercial_regions() -> list[str]:
    from cfnlint.helpers import REGIONS

    return [r for r in REGIONS if not r.startswith(("cn-", "us-gov-", "us-iso", "eu-isoe-", "eusc-"))]


def _snapstart_regions() -> set[str]:
    from cfnlint.rules.resources.lmbd.SnapStartSupported import SnapStartSupported

    return set(SnapStartSupported().regions)


def _lint(template: dict[str, Any], tmp_path: Path, regions: list[str], **pinned: str) -> list[str]:
    """cfn-lint's findings on the transformed template with some parameters pinned to one value (cfn-lint then
    evaluates the conditions on them as CloudFormation would)."""
    template = json.loads(json.dumps(template))
    for name, value in pinned.items():
        template["Parameters"][name].update(AllowedValues=[value], Default=value)
    path = tmp_path / f"transformed-{'-'.join(pinned.values())}.json"
    path.write_text(json.dumps(template, indent=1))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), "--format", "parseable", "--regions", *regions, "--", str(path)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode in (0, 2, 4, 6), result.stderr
    return [line for line in result.stdout.splitlines() if line.strip()]


def test_cfn_lint_is_clean_in_every_commercial_region_with_snapstart_off_and_where_it_exists_with_it_on(
        transformed: dict[str, Any], tmp_path: Path) -> None:
    regions = _commercial_regions()
    with_snapstart = [r for r in regions if r in _snapstart_regions()]
    without = [r for r in regions if r not in _snapstart_regions()]
    assert len(regions) >= 30 and without  # ap-east-2 and ap-southeast-6 at the time of writing
    assert _lint(transformed, tmp_path, regions, SnapStart="false", SnapStartWorkers="PublishedVersions") == []
    on = _lint(transformed, tmp_path, with_snapstart, SnapStart="true", SnapStartWorkers="PublishedVersions")
    # pinning the parameter makes the other branch of its Fn::If unreachable (W1028): the test's doing
    assert [f for f in on if ":W1028:" not in f] == []
    # and the switch is what keeps the others deployable: on, cfn-lint refuses them
    refused = _lint(transformed, tmp_path, without, SnapStart="true")
    assert any(":E2530:" in f for f in refused), refused


def test_reservations_are_switchable_off_to_no_value_never_zero(transformed: dict[str, Any]) -> None:
    functions = _resources(transformed, "AWS::Lambda::Function")
    reserving = {n: f["Properties"]["ReservedConcurrentExecutions"] for n, f in functions.items()
                 if "ReservedConcurrentExecutions" in f["Properties"]}
    assert set(reserving) == {"MigrateFunction", "DispatchFunction", "FinalizeFunction"}
    for name, value in reserving.items():
        condition, on, off = value["Fn::If"]
        assert condition == "Reserve" and off == {"Ref": "AWS::NoValue"}, name
        assert _value(transformed, on) not in (0, "0"), name
    assert transformed["Conditions"]["Reserve"] == {"Fn::Equals": [{"Ref": "ReserveConcurrency"}, "true"]}
    # off, the budget is held by the queues' MaximumConcurrency and the API's throttling
    for mapping in _resources(transformed, "AWS::Lambda::EventSourceMapping").values():
        assert "MaximumConcurrency" in mapping["Properties"]["ScalingConfig"]
    stage = next(iter(_resources(transformed, "AWS::ApiGatewayV2::Stage").values()))["Properties"]
    assert {"ThrottlingRateLimit", "ThrottlingBurstLimit"} <= set(stage["DefaultRouteSettings"])


def test_the_api_admits_no_burst_beyond_dispatchs_reservation(transformed: dict[str, Any]) -> None:
    """A request beyond dispatch's reserved concurrency would be throttled by Lambda and answered 500 by API
    Gateway: the stage's burst is the reservation itself, and the default rate stays within it."""
    settings = next(iter(_resources(transformed, "AWS::ApiGatewayV2::Stage").values()))["Properties"][
        "DefaultRouteSettings"]
    assert settings["ThrottlingBurstLimit"] == {"Fn::If": ["Reserve", {"Ref": "DispatchReservedConcurrency"},
                                                           {"Ref": "ApiThrottlingBurstLimit"}]}
    parameters = transformed["Parameters"]
    assert int(_value(transformed, settings["ThrottlingRateLimit"])) <= int(
        parameters["DispatchReservedConcurrency"]["Default"])
    assert int(parameters["ApiThrottlingBurstLimit"]["Default"]) <= int(
        parameters["DispatchReservedConcurrency"]["Default"])


def test_schedules_are_named_by_cloudformation_so_two_stacks_share_an_account(transformed: dict[str, Any]) -> None:
    schedules = _resources(transformed, "AWS::Scheduler::Schedule")
    assert len(schedules) == 2
    for name, schedule in schedules.items():
        assert "Name" not in schedule["Properties"], name


def test_the_tenant_secret_prefix_can_never_cover_every_secret(transformed: dict[str, Any]) -> None:
    import re

    parameter = transformed["Parameters"]["TenantSecretPrefix"]
    pattern = re.compile(parameter["AllowedPattern"])
    assert int(parameter["MinLength"]) >= 2 and pattern.fullmatch(parameter["Default"])
    # CloudFormation refuses these before anything is created
    for refused in ("", "/", "*", "inventory-sync/*", "inventory-sync", "rds!", "tenants//", " /", "?/"):
        assert not pattern.fullmatch(refused) or len(refused) < int(parameter["MinLength"]), refused
    # every policy statement that names the prefix appends to it within secret:<prefix>*: with a non-empty
    # prefix of no wildcard it covers only names under it, never an RDS-managed secret (rds!...)
    statements = [s for role in _resources(transformed, "AWS::IAM::Role").values()
                  for policy in role["Properties"].get("Policies", [])
                  for s in policy["PolicyDocument"]["Statement"] if "TenantSecretPrefix" in json.dumps(s)]
    assert statements
    writes = [s for s in statements if "secretsmanager:DeleteSecret" in json.dumps(s["Action"])]
    assert writes
    for statement in statements:
        for resource in statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]:
            if "TenantSecretPrefix" in json.dumps(resource):
                assert resource["Fn::Sub"].endswith(":secret:${TenantSecretPrefix}*"), resource


def test_rundlq_is_bounded_and_alarmed_and_partial_batch_failures_are_counted(transformed: dict[str, Any]) -> None:
    queues = _resources(transformed, "AWS::SQS::Queue")
    redrive = queues["RunDLQ"]["Properties"]["RedrivePolicy"]
    parked = _target(redrive["deadLetterTargetArn"])
    assert parked in queues and int(redrive["maxReceiveCount"]) >= 5
    alarms = list(_resources(transformed, "AWS::CloudWatch::Alarm").values())

    def watched(metric: str) -> set[str]:
        return {_target(a["Properties"]["Dimensions"][0]["Value"]) for a in alarms
                if a["Properties"]["MetricName"] == metric and a["Properties"].get("Dimensions")}

    assert parked in watched("ApproximateNumberOfMessagesVisible")
    # a message finalize fails on stays in its queue (a partial batch failure): its age says so
    assert {"RunDLQ", "FinalizeQueue", "RunQueue"} <= watched("ApproximateAgeOfOldestMessage")
    # run_sync's failed attempts are partial batch failures too (Lambda's Errors never counts them): they are
    # logged at ERROR and counted by a metric filter on its log group, which an alarm watches
    filters = _resources(transformed, "AWS::Logs::MetricFilter").values()
    counted = {_target(f["Properties"]["LogGroupName"]): f["Properties"] for f in filters}
    assert {"RunSyncLogs", "FinalizeLogs"} <= set(counted)
    metrics = {(t["MetricNamespace"], t["MetricName"]) for f in counted.values()
               for t in f["MetricTransformations"]}
    assert all('$.level = "ERROR"' in f["FilterPattern"] for f in counted.values())
    assert any((a["Properties"]["Namespace"], a["Properties"]["MetricName"]) in metrics for a in alarms)


def test_the_migration_runs_again_when_the_stack_points_at_another_database(transformed: dict[str, Any]) -> None:
    props = transformed["Resources"]["SchemaMigration"]["Properties"]
    for parameter in ("DatabaseSecretArn", "DatabaseHost", "DatabasePort", "DatabaseName"):
        assert {"Ref": parameter} in props.values(), parameter


def test_replaced_versions_are_deleted_not_retained(transformed: dict[str, Any]) -> None:
    versions = _resources(transformed, "AWS::Lambda::Version")
    assert len(versions) == 3
    for name, version in versions.items():
        assert version.get("DeletionPolicy") == "Delete", name


def test_queue_retries_schedules_cors_and_the_console_as_aws_recommends(transformed: dict[str, Any]) -> None:
    queues = _resources(transformed, "AWS::SQS::Queue")
    sources = {_target(m["Properties"]["EventSourceArn"]) for m in
               _resources(transformed, "AWS::Lambda::EventSourceMapping").values()}
    for name in sources:  # AWS recommends at least 5 receives for a Lambda event source
        assert int(queues[name]["Properties"]["RedrivePolicy"]["maxReceiveCount"]) >= 5, name
    sweep = next(s["Properties"]["Target"] for s in _resources(transformed, "AWS::Scheduler::Schedule").values()
                 if "sweep" in s["Properties"]["Target"]["Input"])
    assert sweep["RetryPolicy"]["MaximumRetryAttempts"] == 0
    assert int(sweep["RetryPolicy"]["MaximumEventAgeInSeconds"]) <= 300
    assert "localhost" not in json.dumps(transformed["Parameters"]["CorsAllowOrigins"])
    functions = _resources(transformed, "AWS::Lambda::Function")
    assert "VpcConfig" not in functions["ConsoleFunction"]["Properties"]
    for name in DATABASE_FUNCTIONS:
        assert functions[name]["Properties"]["VpcConfig"]["SubnetIds"] == {"Ref": "SubnetIds"}, name


def test_every_functions_log_group_exists_before_the_function(transformed: dict[str, Any]) -> None:
    functions = _resources(transformed, "AWS::Lambda::Function")
    groups = _resources(transformed, "AWS::Logs::LogGroup")
    for name, function in functions.items():
        group = _target(function["Properties"]["LoggingConfig"]["LogGroup"])  # a Ref: created first
        assert group in groups, name
        assert name not in json.dumps(groups[group]["Properties"]), (name, "the group must not wait for it")


def test_the_authorizer_is_given_the_v2_issuer_and_says_why_it_refuses(transformed: dict[str, Any]) -> None:
    import re

    issuer = re.compile(transformed["Parameters"]["JwtIssuer"]["AllowedPattern"])
    assert issuer.fullmatch("https://login.microsoftonline.com/0b7d3c1e-2f4a-4b5c-8d6e-7f8091a2b3c4/v2.0")
    for wrong in ("https://sts.windows.net/0b7d3c1e-2f4a-4b5c-8d6e-7f8091a2b3c4/",
                  "https://login.microsoftonline.com/common/v2.0",
                  "https://login.microsoftonline.com/0b7d3c1e-2f4a-4b5c-8d6e-7f8091a2b3c4"):
        assert not issuer.fullmatch(wrong), wrong
    stage = next(iter(_resources(transformed, "AWS::ApiGatewayV2::Stage").values()))["Properties"]
    assert "$context.authorizer.error" in stage["AccessLogSettings"]["Format"]


def test_the_database_secret_is_named_by_its_full_arn(transformed: dict[str, Any]) -> None:
    import re

    pattern = re.compile(transformed["Parameters"]["DatabaseSecretArn"]["AllowedPattern"])
    assert pattern.fullmatch(PARAMETERS["DatabaseSecretArn"])
    assert pattern.fullmatch("arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-3f2a1b0c-9d8e-AbC123")
    for partial in ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-3f2a1b0c",
                    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:inventory", "inventory-sync/database"):
        assert not pattern.fullmatch(partial), partial


def test_a_customer_managed_key_on_the_database_secret_gets_kms_decrypt(transformed: dict[str, Any]) -> None:
    roles = _resources(transformed, "AWS::IAM::Role")
    for name in DATABASE_FUNCTIONS:
        document = json.dumps(roles[f"{name}Role"]["Properties"]["Policies"])
        assert '"kms:Decrypt"' in document and '{"Ref": "DatabaseSecretKmsKeyArn"}' in document, name
        assert '"HasDatabaseSecretKey"' in document, name


def _sample_overrides() -> tuple[list[str], dict[str, str]]:
    """The sample's entries, and what SAM CLI makes of them: its own samconfig reader and parameter parser."""
    from samcli.cli.types import CfnParameterOverridesType
    from samcli.lib.config.samconfig import SamConfig

    config = SamConfig(str(ROOT), filename="samconfig.example.toml")
    entries = config.get_all(["deploy"], "parameters", env="default")["parameter_overrides"]
    return entries, CfnParameterOverridesType().convert(entries, None, None)


def test_sam_cli_reads_every_value_of_the_sample_as_written() -> None:
    entries, parsed = _sample_overrides()
    written = {}
    for entry in entries:
        key, value = entry.split("=", 1)
        written[key] = value[1:-1] if value.startswith('"') and value.endswith('"') else value
    assert parsed == written
    assert parsed["SyncScheduleExpression"] == "cron(0 2 * * ? *)"


def test_the_sample_names_a_full_secret_arn_the_admin_group_and_one_api_prefix() -> None:
    import re

    _, parsed = _sample_overrides()
    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    # the full ARN (IAM matches the secret's full ARN: without Secrets Manager's 6-character suffix, no access)
    suffix = parsed["DatabaseSecretArn"].rsplit("-", 1)[1].strip("<>")
    assert len(suffix) == 6, parsed["DatabaseSecretArn"]
    assert parsed["AdminGroupId"]
    assert parsed["ConsoleApiScope"].count("api://") == 1
    assert not parsed["JwtAudience"].startswith("api://")  # v2.0 tokens carry the client id
    for name, value in parsed.items():
        pattern = template["Parameters"][name].get("AllowedPattern")
        if pattern and "<" not in value:
            assert re.fullmatch(pattern, value), name
        allowed = template["Parameters"][name].get("AllowedValues")
        if allowed:
            assert value in [str(v) for v in allowed], name


def _parameter_refs(template: dict[str, Any], value: Any) -> set[str]:
    """Parameters a value depends on, through Refs, Subs and the conditions of its Fn::Ifs."""
    import re

    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and inner in template["Parameters"]:
                found.add(inner)
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                found |= {n for n in re.findall(r"\$\{([A-Za-z0-9]+)\}", text) if n in template["Parameters"]}
            elif key == "Fn::If":
                found |= _parameter_refs(template, template["Conditions"][inner[0]])
                found |= _parameter_refs(template, inner[1:])
            elif key == "Condition" and isinstance(inner, str):
                found |= _parameter_refs(template, template["Conditions"][inner])
            else:
                found |= _parameter_refs(template, inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _parameter_refs(template, inner)
    return found


def test_a_new_parameter_value_publishes_new_versions(transformed: dict[str, Any]) -> None:
    """SAM names a version after a hash of the function as written (parameters unresolved): a deploy that changes
    only DatabaseHost would leave the alias on a version with the old environment. Every parameter a version
    snapshots (environment, SnapStart, VPC) is a property of the migration resource, which answers their hash;
    the versions' description names it, and a new description replaces (publishes) the version."""
    migration = transformed["Resources"]["SchemaMigration"]["Properties"]
    hashed = _parameter_refs(transformed, {k: v for k, v in migration.items() if k != "ServiceToken"})
    versions = _resources(transformed, "AWS::Lambda::Version")
    assert len(versions) == 3
    for version in versions.values():
        function = transformed["Resources"][_target(version["Properties"]["FunctionName"])]["Properties"]
        assert version["Properties"]["Description"] == {"Fn::Sub": "configuration ${SchemaMigration.Configuration}"}
        snapshotted = _parameter_refs(transformed, {k: function.get(k) for k in ("Environment", "SnapStart",
                                                                               "VpcConfig", "MemorySize")})
        assert snapshotted and snapshotted <= hashed, snapshotted - hashed
