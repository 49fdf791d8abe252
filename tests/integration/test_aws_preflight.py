"""`invsync aws preflight` against moto accounts (a Lambda concurrency quota of 10 and of 1,000; subnets with and
without a route to the internet or VPC endpoints; database secrets of each shape and key) and a loopback stand-in
for the Entra authority's OpenID metadata, through the command itself: its exit code and what it prints."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import botocore.handlers
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws

from invsync_dev.cli import main

REGION = "eu-west-1"
DIRECTORY = "0b7d3c1e-2f4a-4b5c-8d6e-7f8091a2b3c4"
API_CLIENT_ID = "6a1f0c2d-3b4e-4f5a-8b6c-7d8e9f0a1b2c"
GROUP = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"


class _Authority:
    """Stands in for login.microsoftonline.com: a directory's v2.0 OpenID configuration (Microsoft's shape)."""

    def __init__(self) -> None:
        authority = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                prefix = f"/{DIRECTORY}/v2.0/.well-known/openid-configuration"
                if self.path != prefix:
                    self.send_response(400)
                    self.end_headers()
                    return
                body = json.dumps({
                    "issuer": f"{authority.url}/{DIRECTORY}/v2.0",
                    "authorization_endpoint": f"{authority.url}/{DIRECTORY}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{authority.url}/{DIRECTORY}/oauth2/v2.0/token",
                    "jwks_uri": f"{authority.url}/{DIRECTORY}/discovery/v2.0/keys",
                    "id_token_signing_alg_values_supported": ["RS256"],
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def authority() -> Iterator[_Authority]:
    stand_in = _Authority()
    thread = threading.Thread(target=stand_in.server.serve_forever, daemon=True)
    thread.start()
    yield stand_in
    stand_in.server.shutdown()
    stand_in.server.server_close()


def _account_settings(quota: int) -> Any:
    """Lambda's GetAccountSettings as AWS documents it, which moto does not serve: the quota moto itself enforces
    on reservations (MOTO_LAMBDA_CONCURRENCY_QUOTA) less the reservations of moto's functions."""
    def answer(model: Any, params: Any, **_: Any) -> Any:
        if model.name != "GetAccountSettings":
            return None
        from moto.awslambda.models import lambda_backends

        reserved = sum(int(f.reserved_concurrency or 0)
                       for f in lambda_backends["123456789012"][REGION].list_functions())
        limit = {"ConcurrentExecutions": quota, "UnreservedConcurrentExecutions": quota - reserved,
                 "CodeSizeUnzipped": 262144000}
        return (AWSResponse(f"https://lambda.{REGION}.amazonaws.com", 200, HTTPHeaders(), None),
                {"AccountLimit": limit, "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0}})
    return answer


@pytest.fixture
def account(aws_env: None, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A moto account: a VPC with a subnet behind a NAT gateway, the database's secret (RDS-managed shape)."""
    quota = getattr(request, "param", 1000)
    monkeypatch.setenv("MOTO_LAMBDA_CONCURRENCY_QUOTA", str(quota))
    monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS", [
        *botocore.handlers.BUILTIN_HANDLERS, ("before-call.lambda", _account_settings(quota))])
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        nat = ec2.create_nat_gateway(SubnetId=public["SubnetId"], AllocationId=eip)["NatGateway"]["NatGatewayId"]
        subnets = {}
        for name, cidr, zone in (("nat-a", "10.0.1.0/24", "a"), ("nat-b", "10.0.2.0/24", "b"),
                                 ("isolated", "10.0.3.0/24", "a"), ("igw", "10.0.4.0/24", "b")):
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{REGION}{zone}")["Subnet"]
            table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
            ec2.associate_route_table(RouteTableId=table, SubnetId=subnet["SubnetId"])
            if name.startswith("nat"):
                ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
            elif name == "igw":
                ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
            subnets[name] = {"id": subnet["SubnetId"], "table": table}
        secrets = boto3.client("secretsmanager", region_name=REGION)
        secret = secrets.create_secret(Name="rds!db-3f2a1b0c", SecretString=json.dumps(
            {"username": "inventory_app", "password": "correct-horse-battery"}))["ARN"]
        yield {"ec2": ec2, "vpc": vpc, "subnets": subnets, "secret": secret, "quota": quota,
               "secrets": secrets, "kms": boto3.client("kms", region_name=REGION)}


def _samconfig(tmp_path: Path, account: dict[str, Any], authority: _Authority, **overrides: str) -> Path:
    """A samconfig.toml written as the README's sample has it, with this account's values."""
    values = {
        "JwtIssuer": f"{authority.url}/{DIRECTORY}/v2.0", "GraphAuthorityHost": authority.url,
        "JwtAudience": API_CLIENT_ID, "AdminGroupId": GROUP, "ConsoleClientId": API_CLIENT_ID,
        "ConsoleApiScope": f"api://{API_CLIENT_ID}/access_as_user",
        "DatabaseSecretArn": account["secret"], "DatabaseHost": "db.example.internal", "DatabaseName": "inventory",
        "SubnetIds": f"{account['subnets']['nat-a']['id']},{account['subnets']['nat-b']['id']}",
        "SecurityGroupIds": "sg-0123456789abcdef0", "SyncScheduleExpression": '"cron(0 2 * * ? *)"',
        **overrides}
    entries = ",\n".join(json.dumps(f"{k}={v}") for k, v in values.items())
    path = tmp_path / "samconfig.toml"
    path.write_text(f'version = 0.1\n[default.global.parameters]\nstack_name = "inventory-sync"\nregion = "{REGION}"\n'
                    f"[default.deploy.parameters]\nparameter_overrides = [\n{entries}\n]\n")
    return path


def _preflight(capsys: pytest.CaptureFixture[str], config: Path, *extra: str) -> tuple[int, str]:
    code = main(["aws", "preflight", "--config-file", str(config), *extra])
    return code, capsys.readouterr().out


def _lines(out: str, level: str, check: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(f"[{level}]") and f" {check}:" in line]


def test_a_ready_account_passes(account: dict[str, Any], authority: _Authority, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _preflight(capsys, _samconfig(tmp_path, account, authority))
    assert code == 0, out
    assert "0 blocker(s)" in out and "[BLOCKER]" not in out
    assert _lines(out, "ok", "Lambda concurrency") and "quota 1000; 983 stay unreserved" in out
    assert _lines(out, "ok", "SnapStart") and _lines(out, "ok", "Entra directory")
    assert len(_lines(out, "ok", "subnets")) == 2
    assert "correct-horse-battery" not in out  # the secret's value is read, never shown


@pytest.mark.parametrize("account", [10], indirect=True)
def test_an_account_with_a_quota_of_10_is_told_to_switch_reservations_off(
        account: dict[str, Any], authority: _Authority, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _preflight(capsys, _samconfig(tmp_path, account, authority))
    assert code == 1
    [blocker] = _lines(out, "BLOCKER", "Lambda concurrency")
    assert "quota is 10" in blocker and "reserves 17" in blocker
    assert "fix: deploy with ReserveConcurrency=false" in out
    # what the check predicts is what Lambda (here moto, at the same quota) does with the first reservation
    lam = boto3.client("lambda", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam.create_function(FunctionName="MigrateFunction", Runtime="python3.12", Role=role, Handler="app.h",
                        Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18})
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match="below its minimum value"):
        lam.put_function_concurrency(FunctionName="MigrateFunction", ReservedConcurrentExecutions=1)
    # switched off, nothing blocks; the queues' share of the small quota is a warning with a value that fits
    code, out = _preflight(capsys, _samconfig(tmp_path, account, authority, ReserveConcurrency="false"))
    assert code == 0, out
    [warning] = _lines(out, "warn", "Lambda concurrency")
    # the template's defaults: RunSyncMaximumConcurrency 16 + 2 x FinalizeMaximumConcurrency 2
    assert "take 20 of the account's 10" in warning and "RunSyncMaximumConcurrency=4" in out


@pytest.mark.parametrize("account", [1000], indirect=True)
def test_an_account_of_1000_with_other_reservations_is_measured_by_whats_left(
        account: dict[str, Any], authority: _Authority, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lam = boto3.client("lambda", region_name=REGION)
    role = boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam.create_function(FunctionName="someone-elses", Runtime="python3.12", Role=role, Handler="app.h",
                        Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18})
    lam.put_function_concurrency(FunctionName="someone-elses", ReservedConcurrentExecutions=890)
    code, out = _preflight(capsys, _samconfig(tmp_path, account, authority))
    assert code == 1 and "(110 unreserved)" in _lines(out, "BLOCKER", "Lambda concurrency")[0]
    code, out = _preflight(capsys, _samconfig(tmp_path, account, authority), "--parameter-overrides",
                           "DispatchReservedConcurrency=3 FinalizeReservedConcurrency=5")
    assert code == 0 and "101 stay unreserved after the stack's 9" in out


def test_subnets_without_a_route_name_the_endpoints_they_lack(
        account: dict[str, Any], authority: _Authority, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    subnets = account["subnets"]
    config = _samconfig(tmp_path, account, authority,
                        SubnetIds=f"{subnets['isolated']['id']},{subnets['igw']['id']}")
    code, out = _preflight(capsys, config)
    assert code == 1
    isolated, igw = (next(line for line in _lines(out, "BLOCKER", "subnets") if subnets[n]["id"] in line)
                     for n in ("isolated", "igw"))
    assert "has no route to the internet" in isolated
    for missing in (f"com.amazonaws.{REGION}.sqs", f"com.amazonaws.{REGION}.secretsmanager",
                    f"com.amazonaws.{REGION}.s3", "CloudFormation's S3 response URL"):
        assert missing in isolated, missing
    assert "internet gateway" in igw and "no public address" in igw
    assert "NAT gateway" in out
    # with the endpoints in place only Graph (on the internet) is still out of reach
    ec2 = account["ec2"]
    for service in ("sqs", "secretsmanager"):
        ec2.create_vpc_endpoint(VpcId=account["vpc"], ServiceName=f"com.amazonaws.{REGION}.{service}",
                                VpcEndpointType="Interface", SubnetIds=[subnets["isolated"]["id"]],
                                PrivateDnsEnabled=True)
    ec2.create_vpc_endpoint(VpcId=account["vpc"], ServiceName=f"com.amazonaws.{REGION}.s3", VpcEndpointType="Gateway",
                            RouteTableIds=[subnets["isolated"]["table"]])
    code, out = _preflight(capsys, _samconfig(tmp_path, account, authority,
                                              SubnetIds=f"{subnets['isolated']['id']},{subnets['nat-b']['id']}"))
    [isolated] = _lines(out, "BLOCKER", "subnets")
    assert "endpoints for SQS, Secrets Manager and S3 are there" in isolated and "Microsoft Graph" in isolated
    assert code == 1 and _lines(out, "ok", "subnets")


def test_the_database_secret_its_arn_and_its_key(account: dict[str, Any], authority: _Authority, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    secrets, kms = account["secrets"], account["kms"]
    # the ARN without Secrets Manager's suffix: the functions' policy would not match it
    partial = account["secret"].rsplit("-", 1)[0]
    code, out = _preflight(capsys, _samconfig(tmp_path, account, authority, DatabaseSecretArn=partial))
    assert code == 1 and f"fix: DatabaseSecretArn={account['secret']}" in out
    # an RDS-managed secret has no host: DatabaseHost must say where the database is
    code, out = _preflight(capsys, _samconfig(tmp_path, account, authority, DatabaseHost='""'))
    assert code == 1 and "lacks host" in _lines(out, "BLOCKER", "database secret")[0]
    # a customer-managed key: kms:Decrypt through DatabaseSecretKmsKeyArn
    key = kms.create_key(Description="inventory database secret")["KeyMetadata"]
    secrets.update_secret(SecretId=account["secret"], KmsKeyId=key["Arn"])
    code, out = _preflight(capsys, _samconfig(tmp_path, account, authority))
    assert code == 1 and f"fix: DatabaseSecretKmsKeyArn={key['Arn']}" in out
    code, out = _preflight(capsys, _samconfig(tmp_path, account, authority, DatabaseSecretKmsKeyArn=key["Arn"]))
    assert code == 0, out
    assert "the functions get kms:Decrypt" in _lines(out, "ok", "database secret's key")[0]
    # not JSON at all
    secrets.put_secret_value(SecretId=account["secret"], SecretString="hunter2")
    code, out = _preflight(capsys, _samconfig(tmp_path, account, authority, DatabaseSecretKmsKeyArn=key["Arn"]))
    assert code == 1 and "not a JSON object" in out and "hunter2" not in out


def test_the_tenant_prefix_must_not_cover_the_database_secret(
        account: dict[str, Any], authority: _Authority, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arn = account["secrets"].create_secret(Name="inventory-sync/db", SecretString=json.dumps(
        {"username": "u", "password": "p", "host": "h"}))["ARN"]
    code, out = _preflight(capsys, _samconfig(tmp_path, account, authority, DatabaseSecretArn=arn,
                                              TenantSecretPrefix="inventory-sync/"))
    assert code == 1 and "could overwrite or delete it" in out


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"JwtIssuer": f"https://sts.windows.net/{DIRECTORY}/"}, "accessTokenAcceptedVersion to 2"),
    ({"JwtIssuer": "{authority}/common/v2.0"}, "not a directory's v2.0 issuer"),
    ({"JwtIssuer": f"https://login.microsoftonline.com/{DIRECTORY}/v2.0"}, "is not the authority"),
    ({"JwtAudience": f"api://{API_CLIENT_ID}"}, "never its Application ID URI"),
    ({"JwtIssuer": "{authority}/11111111-2222-4333-8444-555555555555/v2.0"}, "no such directory"),
])
def test_issuer_and_audience_forms_and_the_directorys_metadata(
        account: dict[str, Any], authority: _Authority, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        overrides: dict[str, str], expected: str) -> None:
    overrides = {k: v.replace("{authority}", authority.url) for k, v in overrides.items()}
    code, out = _preflight(capsys, _samconfig(tmp_path, account, authority, **overrides))
    assert code == 1
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("[BLOCKER]"))
    assert expected in " ".join(lines[at:at + 2]), out  # the blocker's line, or the fix under it


def test_snapstart_where_lambda_has_none(account: dict[str, Any], authority: _Authority, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    config = _samconfig(tmp_path, account, authority)
    code, out = _preflight(capsys, config, "--region", "ap-east-2", "--parameter-overrides", "SubnetIds=subnet-x")
    assert "[BLOCKER] SnapStart: Lambda SnapStart is not available in ap-east-2" in out
    assert "fix: deploy with SnapStart=false" in out
    assert code == 1


def test_placeholders_left_in_the_sample_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample = Path(__file__).resolve().parents[2] / "samconfig.example.toml"
    code = main(["aws", "preflight", "--config-file", str(sample), "--region", REGION])
    err = capsys.readouterr().err
    assert code == 2 and "replace the placeholders" in err and "DatabaseSecretArn" in err
