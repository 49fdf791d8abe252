"""``invsync aws preflight``: checks a customer's AWS account and Entra directory before the first ``sam deploy``.

It reads the same parameters ``sam deploy`` would (samconfig.toml through SAM CLI's own reader and parser, then
``--parameter-overrides``, then template.yaml's defaults), looks at the account with the caller's credentials
(read-only calls), fetches the directory's OpenID metadata over HTTPS, and prints one line per check with the
fix. It exits 1 when a check found a blocker - something that would make the deploy fail, or every call fail
after it - and 0 otherwise (warnings included). Secret values are read to check their shape, never printed.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from invsync_dev.paths import PROJECT_ROOT

OK, WARN, BLOCKER = "ok", "warn", "BLOCKER"
# Lambda keeps this much of the account's concurrency unreserved; a reservation below it is refused
UNRESERVED_MINIMUM = 100
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass
class Finding:
    level: str
    check: str
    message: str
    fix: str = ""


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    def add(self, level: str, check: str, message: str, fix: str = "") -> None:
        self.findings.append(Finding(level, check, message, fix))

    @property
    def blockers(self) -> list[Finding]:
        return [f for f in self.findings if f.level == BLOCKER]

    def render(self) -> str:
        lines = []
        for f in self.findings:
            lines.append(f"[{f.level}]{' ' * (8 - len(f.level))}{f.check}: {f.message}")
            if f.fix:
                lines.append(f"{' ' * 10}fix: {f.fix}")
        blockers = len(self.blockers)
        warnings = sum(f.level == WARN for f in self.findings)
        lines.append(f"{blockers} blocker(s), {warnings} warning(s)"
                     + (": fix the blockers before `sam deploy`" if blockers else ""))
        return "\n".join(lines)


# --- parameters, as sam deploy reads them ---------------------------------------------------------------------

def template_defaults(template: Path) -> dict[str, str]:
    from cfnlint.decode import cfn_yaml

    parameters = cfn_yaml.load(str(template))["Parameters"]
    return {name: str(p["Default"]) for name, p in parameters.items() if "Default" in p}


def read_samconfig(path: Path, env: str) -> tuple[dict[str, str], dict[str, Any]]:
    """(parameter overrides, other deploy options such as region and stack_name) as SAM CLI reads them."""
    from samcli.cli.types import CfnParameterOverridesType
    from samcli.lib.config.samconfig import SamConfig

    config = SamConfig(str(path.parent), filename=path.name)
    options = dict(config.get_all(["deploy"], "parameters", env=env) or {})
    overrides = CfnParameterOverridesType().convert(options.pop("parameter_overrides", None), None, None)
    return dict(overrides), options


def parse_overrides(text: str | None) -> dict[str, str]:
    from samcli.cli.types import CfnParameterOverridesType

    return dict(CfnParameterOverridesType().convert(text, None, None)) if text else {}


def _int(params: dict[str, str], name: str) -> int:
    try:
        return int(params.get(name, "0") or 0)
    except ValueError:
        return 0


# --- checks ---------------------------------------------------------------------------------------------------

def check_concurrency(report: Report, params: dict[str, str], lam: Any, stack_functions: list[str]) -> None:
    check = "Lambda concurrency"
    settings = lam.get_account_settings()["AccountLimit"]
    limit = int(settings["ConcurrentExecutions"])
    unreserved = int(settings["UnreservedConcurrentExecutions"])
    for name in stack_functions:  # an update: this stack's own reservations come back to the pool first
        unreserved += int(lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions") or 0)
    dispatch, finalize = _int(params, "DispatchReservedConcurrency"), _int(params, "FinalizeReservedConcurrency")
    run_sync_max, finalize_max = _int(params, "RunSyncMaximumConcurrency"), _int(params, "FinalizeMaximumConcurrency")
    if params.get("ReserveConcurrency", "true") == "true":
        needed = 1 + dispatch + finalize
        left = unreserved - needed
        quota_needed = needed + UNRESERVED_MINIMUM + limit - unreserved
        if left < UNRESERVED_MINIMUM:
            report.add(BLOCKER, check, f"the account's quota is {limit} ({unreserved} unreserved); the stack "
                       f"reserves {needed} (migrate 1, dispatch {dispatch}, finalize {finalize}) and Lambda refuses "
                       f"any reservation that leaves under {UNRESERVED_MINIMUM} unreserved",
                       "deploy with ReserveConcurrency=false (the queues' MaximumConcurrency and the API's "
                       "throttling then hold the database's connection budget), or ask Service Quotas for more "
                       f"\"Concurrent executions\" (L-B99A9384; at least {quota_needed})")
        else:
            report.add(OK, check, f"quota {limit}; {left} stay unreserved after the stack's {needed}")
        rate = _int(params, "ApiThrottlingRateLimit")
        if rate > dispatch:
            report.add(WARN, "API throttling", f"ApiThrottlingRateLimit {rate}/s is above dispatch's reservation "
                       f"({dispatch}): requests beyond it are throttled by Lambda and answered 500, not 429",
                       f"ApiThrottlingRateLimit={dispatch} (or raise DispatchReservedConcurrency)")
        return
    pollers = run_sync_max + 2 * finalize_max
    if pollers + 1 > limit:
        fitting = max(2, limit - 2 * finalize_max - 2)
        report.add(WARN, check, f"without reservations the queues may take {pollers} of the account's {limit}: "
                   "the API's calls are then throttled and answered 500",
                   f"RunSyncMaximumConcurrency={fitting}, or ask Service Quotas for more \"Concurrent executions\"")
    else:
        report.add(OK, check, f"quota {limit}; no reservations (ReserveConcurrency=false), the queues take at "
                   f"most {pollers}")


def snapstart_regions() -> set[str]:
    from cfnlint.rules.resources.lmbd.SnapStartSupported import SnapStartSupported

    return set(SnapStartSupported().regions)


def check_snapstart(report: Report, params: dict[str, str], region: str) -> None:
    if params.get("SnapStart", "true") != "true":
        report.add(OK, "SnapStart", "off (SnapStart=false)")
    elif region in snapstart_regions():
        report.add(OK, "SnapStart", f"available in {region}")
    else:
        report.add(BLOCKER, "SnapStart", f"Lambda SnapStart is not available in {region}: the stack is refused",
                   "deploy with SnapStart=false (dispatch's cold starts are then slower)")


def _decrypt_delegated_to_iam(policy: dict[str, Any], account: str) -> bool:
    """The key policy lets IAM policies of the account grant its use (AWS's default key policy does)."""
    for statement in policy.get("Statement", []):
        principal = json.dumps(statement.get("Principal", {}))
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if (statement.get("Effect") == "Allow" and (f":{account}:root" in principal or f'"{account}"' in principal)
                and any(a in ("kms:*", "kms:Decrypt") for a in actions)):
            return True
    return False


def check_database_secret(report: Report, params: dict[str, str], secrets: Any, kms: Any) -> None:
    check = "database secret"
    arn = params.get("DatabaseSecretArn", "")
    if not arn:
        report.add(BLOCKER, check, "DatabaseSecretArn is not set", "name the secret's full ARN")
        return
    try:
        described = secrets.describe_secret(SecretId=arn)
    except secrets.exceptions.ResourceNotFoundException:
        report.add(BLOCKER, check, "no such secret in this account and region",
                   "create it (README, \"Deploy to AWS\") or correct DatabaseSecretArn")
        return
    if described["ARN"] != arn:
        report.add(BLOCKER, check, "DatabaseSecretArn is not the secret's full ARN: the functions' IAM policy names "
                   "it as given and would not match", f"DatabaseSecretArn={described['ARN']}")
    prefix = params.get("TenantSecretPrefix", "")
    if prefix and described["Name"].startswith(prefix):
        report.add(BLOCKER, check, f"the secret's name starts with TenantSecretPrefix ({prefix}): the functions "
                   "could overwrite or delete it", "choose another TenantSecretPrefix")
    try:
        value = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    except (ValueError, KeyError):
        value = None
    if not isinstance(value, dict):
        report.add(BLOCKER, check, "its value is not a JSON object",
                   'store {"username": ..., "password": ..., "host": ..., "port": 5432, "dbname": ...}')
        return
    missing = [k for k in ("username", "password") if not isinstance(value.get(k), str) or not value.get(k)]
    if not params.get("DatabaseHost") and not value.get("host"):
        missing.append("host (or the DatabaseHost parameter)")
    if missing:
        report.add(BLOCKER, check, f"its JSON lacks {', '.join(missing)}",
                   "an RDS-managed secret holds username and password only: set DatabaseHost too")
    else:
        database = params.get("DatabaseName") or value.get("dbname") or "postgres"
        report.add(OK, check, f"shape ok (user and password; database {database!r})")
    key_id = described.get("KmsKeyId")
    if not key_id:
        report.add(OK, "database secret's key", "encrypted with the account's aws/secretsmanager key")
        return
    key = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    if key.get("KeyManager") == "AWS":
        report.add(OK, "database secret's key", "an AWS managed key")
        return
    if params.get("DatabaseSecretKmsKeyArn") != key["Arn"]:
        report.add(BLOCKER, "database secret's key", "the secret is encrypted with a customer-managed KMS key the "
                   "functions may not use (kms:Decrypt): every start fails with AccessDenied",
                   f"DatabaseSecretKmsKeyArn={key['Arn']}")
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    if not _decrypt_delegated_to_iam(policy, key["AWSAccountId"]):
        report.add(WARN, "database secret's key", "the key policy does not let the account's IAM policies grant "
                   "kms:Decrypt, so the functions' policy alone is not enough",
                   "add the statement AWS's default key policy has (Principal arn:aws:iam::<account>:root, "
                   "Action kms:*), or allow the stack's function roles kms:Decrypt in the key policy")
    elif params.get("DatabaseSecretKmsKeyArn") == key["Arn"]:
        report.add(OK, "database secret's key", "customer-managed; the functions get kms:Decrypt on it")


def _route_table(ec2: Any, subnet: dict[str, Any]) -> dict[str, Any] | None:
    tables = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id",
                                                 "Values": [subnet["SubnetId"]]}])["RouteTables"]
    if not tables:  # no explicit association: the VPC's main route table
        tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [subnet["VpcId"]]},
                                                    {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    return tables[0] if tables else None


def check_subnets(report: Report, params: dict[str, str], ec2: Any, region: str) -> None:
    check = "subnets"
    ids = [s.strip() for s in params.get("SubnetIds", "").split(",") if s.strip()]
    if not ids:
        report.add(BLOCKER, check, "SubnetIds is not set", "name the private subnets the functions run in")
        return
    try:
        subnets = ec2.describe_subnets(SubnetIds=ids)["Subnets"]
    except ec2.exceptions.ClientError as exc:
        report.add(BLOCKER, check, f"cannot read them ({exc.response['Error']['Code']})",
                   "check SubnetIds (and the region)")
        return
    if len({s["AvailabilityZone"] for s in subnets}) < 2:
        report.add(WARN, check, "all in one availability zone", "name subnets in two or more zones")
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [subnets[0]["VpcId"]]}])[
        "VpcEndpoints"]
    services = {e["ServiceName"].rsplit(".", 1)[-1]: e for e in endpoints
                if e.get("State", "available").lower() in ("available", "pending")}
    for subnet in subnets:
        table = _route_table(ec2, subnet)
        routes = table["Routes"] if table else []
        default = next((r for r in routes if r.get("DestinationCidrBlock") == "0.0.0.0/0"
                        and r.get("State", "active") == "active"), None)
        name = subnet["SubnetId"]
        if default and (default.get("NatGatewayId") or default.get("TransitGatewayId")
                        or default.get("NetworkInterfaceId") or default.get("InstanceId")):
            via = next(default[k] for k in ("NatGatewayId", "TransitGatewayId", "NetworkInterfaceId", "InstanceId")
                       if default.get(k))
            report.add(OK, check, f"{name} reaches the internet via {via} (Graph, SQS, Secrets Manager, "
                       "CloudFormation's S3 response URL)")
            continue
        if default and str(default.get("GatewayId", "")).startswith("igw-"):
            problem = (f"{name} routes to an internet gateway: functions in a VPC get no public address, so that "
                       "route reaches nothing")
        else:
            problem = f"{name} has no route to the internet"
        missing = []
        for service, what in (("sqs", "SQS"), ("secretsmanager", "Secrets Manager")):
            endpoint = services.get(service)
            if not endpoint or not endpoint.get("PrivateDnsEnabled", False):
                missing.append(f"{what} (interface endpoint com.amazonaws.{region}.{service}, private DNS on)")
        s3 = services.get("s3")
        if not s3 or (s3.get("VpcEndpointType") == "Gateway" and table
                      and table["RouteTableId"] not in s3.get("RouteTableIds", [])):
            missing.append(f"CloudFormation's S3 response URL (gateway endpoint com.amazonaws.{region}.s3 on "
                           f"{table['RouteTableId'] if table else 'its route table'})")
        detail = ("; VPC endpoints missing: " + ", ".join(missing)) if missing else (
            "; the VPC endpoints for SQS, Secrets Manager and S3 are there")
        report.add(BLOCKER, check, problem + detail + ": run_sync must reach Microsoft Graph "
                   "(graph.microsoft.com, login.microsoftonline.com) on the internet",
                   "route 0.0.0.0/0 to a NAT gateway in a public subnet (an egress allow-list must admit Graph, "
                   "the authority and *.s3.amazonaws.com)")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def check_issuer_and_audience(report: Report, params: dict[str, str]) -> str | None:
    """The issuer's and audiences' forms; returns the issuer when it is worth fetching its metadata."""
    issuer = params.get("JwtIssuer", "")
    authority = urlsplit(params.get("GraphAuthorityHost") or "https://login.microsoftonline.com")
    parts = urlsplit(issuer)
    segments = [s for s in parts.path.split("/") if s]
    fetchable = None
    if parts.hostname == "sts.windows.net":
        report.add(BLOCKER, "issuer", "a v1.0 issuer (sts.windows.net): the HTTP API is then given v1.0 tokens, "
                   "whose audience is the api:// URI", "set accessTokenAcceptedVersion to 2 in the API registration's "
                   "manifest and JwtIssuer=https://login.microsoftonline.com/<directory-tenant-id>/v2.0")
    elif len(segments) != 2 or segments[1] != "v2.0" or not _GUID.match(segments[0]):
        report.add(BLOCKER, "issuer", f"{issuer!r} is not a directory's v2.0 issuer (common, organizations or a "
                   "domain name never appear in a token's iss)",
                   "JwtIssuer=https://login.microsoftonline.com/<directory-tenant-id>/v2.0 (the Directory (tenant) "
                   "ID on the app registration's overview)")
    elif parts.hostname != authority.hostname:
        report.add(BLOCKER, "issuer", f"{parts.hostname} is not the authority ({authority.hostname})",
                   "use the authority of your cloud in JwtIssuer, or set GraphAuthorityHost to it")
    elif parts.scheme != "https" and not (parts.scheme == "http" and _loopback(parts.hostname or "")):
        report.add(BLOCKER, "issuer", "not https", "JwtIssuer must be https")
    else:
        report.add(OK, "issuer", f"a v2.0 issuer of directory {segments[0]}")
        fetchable = issuer
    audiences = [a.strip() for a in params.get("JwtAudience", "").split(",") if a.strip()]
    if not audiences:
        report.add(BLOCKER, "audience", "JwtAudience is not set", "JwtAudience=<api-app-client-id>")
    for audience in audiences:
        if audience.startswith("api://"):
            report.add(BLOCKER, "audience", f"{audience}: v2.0 access tokens carry the API's application (client) "
                       "id in aud, never its Application ID URI: every call would answer 401",
                       "JwtAudience=<api-app-client-id> (the GUID on the API registration's overview)")
        elif not _GUID.match(audience):
            report.add(WARN, "audience", f"{audience!r} is not a client id (a GUID)",
                       "JwtAudience=<api-app-client-id>")
        else:
            report.add(OK, "audience", f"{audience} (a client id)")
    scope = params.get("ConsoleApiScope", "")
    if params.get("ConsoleClientId") and not scope:
        report.add(WARN, "console", "ConsoleClientId without ConsoleApiScope: the console cannot ask for a token",
                   "ConsoleApiScope=api://<api-app-client-id>/access_as_user")
    elif scope.count("api://") > 1 or (scope and not re.match(r"^api://[^/]+/[^/]+$", scope)):
        report.add(WARN, "console", f"{scope!r} is not <Application ID URI>/<scope>",
                   "ConsoleApiScope=api://<api-app-client-id>/access_as_user")
    if not params.get("AdminGroupId"):
        report.add(WARN, "administrators", "AdminGroupId is empty: nobody can onboard a tenant over the API",
                   "AdminGroupId=<object id of the Entra group>; the API registration's groupMembershipClaims must "
                   "be SecurityGroup (or ApplicationGroup with the group assigned)")
    return fetchable


def check_openid_metadata(report: Report, issuer: str, timeout: float = 10.0) -> None:
    """The directory's OpenID configuration for that issuer, from the authority itself over HTTPS."""
    check = "Entra directory"
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - https (or a loopback stand-in)
            document = json.loads(response.read(1_000_000))
    except urllib.error.HTTPError as exc:
        report.add(BLOCKER, check, f"the authority answered {exc.code} for the issuer's OpenID configuration: no "
                   "such directory", "JwtIssuer's GUID must be the Directory (tenant) ID of the API's registration")
        return
    except (OSError, ValueError) as exc:
        report.add(WARN, check, f"could not read the issuer's OpenID configuration ({type(exc).__name__})",
                   f"check that {urlsplit(url).hostname} is reachable from here")
        return
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        found = document.get("issuer") if isinstance(document, dict) else None
        report.add(BLOCKER, check, f"the directory's metadata names the issuer {found!r}, not JwtIssuer",
                   f"JwtIssuer={found}" if found else "check JwtIssuer")
        return
    jwks = str(document.get("jwks_uri", ""))
    if not jwks.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        report.add(BLOCKER, check, "the metadata has no https jwks_uri", "check JwtIssuer")
        return
    report.add(OK, check, f"OpenID metadata found; tokens are signed with the keys at {urlsplit(jwks).hostname}")


def _stack_functions(cloudformation: Any, stack_name: str) -> list[str]:
    try:
        resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    except cloudformation.exceptions.ClientError:
        return []  # a first deploy
    return [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::Lambda::Function"
            and r.get("PhysicalResourceId")]


def preflight(params: dict[str, str], session: Any, region: str, stack_name: str) -> Report:
    report = Report()
    lam, ec2 = session.client("lambda", region_name=region), session.client("ec2", region_name=region)
    secrets, kms = session.client("secretsmanager", region_name=region), session.client("kms", region_name=region)
    cloudformation = session.client("cloudformation", region_name=region)
    check_concurrency(report, params, lam, _stack_functions(cloudformation, stack_name))
    check_snapstart(report, params, region)
    check_database_secret(report, params, secrets, kms)
    check_subnets(report, params, ec2, region)
    issuer = check_issuer_and_audience(report, params)
    if issuer:
        check_openid_metadata(report, issuer)
    return report


def cmd_preflight(args: argparse.Namespace) -> int:
    import boto3
    import botocore.exceptions

    template = Path(args.template_file)
    params = template_defaults(template)
    options: dict[str, Any] = {}
    config = Path(args.config_file)
    if config.exists():
        overrides, options = read_samconfig(config, args.config_env)
        params.update(overrides)
    elif args.config_file != "samconfig.toml":
        print(f"invsync aws preflight: {config} not found", file=sys.stderr)
        return 2
    params.update(parse_overrides(args.parameter_overrides))
    region = args.region or options.get("region") or boto3.session.Session(profile_name=args.profile).region_name
    if not region or "<" in str(region):
        print("invsync aws preflight: no region (give --region, or region in samconfig.toml)", file=sys.stderr)
        return 2
    stack_name = args.stack_name or options.get("stack_name") or "inventory-sync"
    unset = sorted(k for k, v in params.items() if "<" in v and ">" in v)
    if unset:
        print(f"invsync aws preflight: replace the placeholders in {', '.join(unset)} first", file=sys.stderr)
        return 2
    session = boto3.session.Session(profile_name=args.profile or options.get("profile"), region_name=region)
    print(f"Checking stack {stack_name} in {region} (account's credentials: {args.profile or 'default'})")
    try:
        report = preflight(params, session, region, stack_name)
    except botocore.exceptions.NoCredentialsError:
        print("invsync aws preflight: no AWS credentials (aws configure, or AWS_PROFILE)", file=sys.stderr)
        return 2
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        print(f"invsync aws preflight: {exc.operation_name} refused: {error.get('Code')} - these checks need "
              "read access (lambda:GetAccountSettings, ec2:Describe*, secretsmanager:DescribeSecret and "
              "GetSecretValue, kms:DescribeKey and GetKeyPolicy, cloudformation:DescribeStackResources)",
              file=sys.stderr)
        return 2
    print(report.render())
    return 1 if report.blockers else 0


def register(sub: argparse._SubParsersAction) -> None:
    aws = sub.add_parser("aws", help="a customer's AWS account").add_subparsers(dest="aws_command", required=True)
    p = aws.add_parser("preflight", help="check the account, the database secret, the subnets and the Entra "
                       "directory against the deploy's parameters before `sam deploy` (exit 1 on a blocker)")
    p.add_argument("--config-file", default="samconfig.toml",
                   help="SAM CLI's configuration to read the parameters from (default: samconfig.toml)")
    p.add_argument("--config-env", default="default", help="its environment (default: default)")
    p.add_argument("--parameter-overrides", help="as for sam deploy: 'Key=Value Key2=\"value with spaces\"'")
    p.add_argument("--template-file", default=str(PROJECT_ROOT / "template.yaml"))
    p.add_argument("--region", help="default: the configuration's region, then the AWS profile's")
    p.add_argument("--profile", help="AWS named profile")
    p.add_argument("--stack-name", help="default: the configuration's stack_name")
    p.set_defaults(func=cmd_preflight)
