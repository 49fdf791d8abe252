"""The policy-type registry (facts from POLICY_TYPES.md) and the runtime resolver."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Assignments(StrEnum):
    EXPAND = "expand"  # `$expand=assignments` on the list call
    BATCH = "batch"    # per item `/{id}/assignments`, packed into JSON $batch requests
    NONE = "none"      # the type has no assignments


@dataclass(frozen=True)
class PolicyType:
    key: str
    collection: str
    category: str
    permission: str
    assignments: Assignments
    api_version: str = "beta"
    v1_available: bool = False
    foundation: bool = False
    list_filter: str | None = None
    # settings catalog: settings are a paged sub-collection of each policy
    settings_path: str | None = None
    supports_top: bool = True

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "collection": self.collection,
            "category": self.category,
            "permission": self.permission,
            "assignments": self.assignments.value,
            "api_version": self.api_version,
            "v1_available": self.v1_available,
            "foundation": self.foundation,
        }


DMC = "DeviceManagementConfiguration.Read.All"
DMA = "DeviceManagementApps.Read.All"
DMSC = "DeviceManagementServiceConfig.Read.All"
DMS = "DeviceManagementScripts.Read.All"
RBAC = "DeviceManagementRBAC.Read.All"
E, B, N = Assignments.EXPAND, Assignments.BATCH, Assignments.NONE


def _t(key: str, collection: str, category: str, permission: str, assignments: Assignments,
       v1: bool = False, **extra: object) -> PolicyType:
    return PolicyType(key, collection, category, permission, assignments, v1_available=v1, **extra)  # type: ignore[arg-type]


POLICY_TYPES: tuple[PolicyType, ...] = (
    _t("deviceConfiguration", "/deviceManagement/deviceConfigurations", "Configuration", DMC, E, v1=True),
    _t("settingsCatalogPolicy", "/deviceManagement/configurationPolicies", "Configuration", DMC, E,
       settings_path="settings"),
    _t("groupPolicyConfiguration", "/deviceManagement/groupPolicyConfigurations", "Configuration", DMC, E),
    _t("hardwareConfiguration", "/deviceManagement/hardwareConfigurations", "Configuration", DMC, E),
    _t("deviceCompliancePolicy", "/deviceManagement/deviceCompliancePolicies", "Compliance", DMC, E, v1=True),
    _t("compliancePolicy", "/deviceManagement/compliancePolicies", "Compliance", DMC, E),
    _t("deviceComplianceScript", "/deviceManagement/deviceComplianceScripts", "Compliance", DMS, N),
    _t("endpointSecurityIntent", "/deviceManagement/intents", "Endpoint Security", DMC, E),
    _t("deviceManagementScript", "/deviceManagement/deviceManagementScripts", "Scripts", DMS, E),
    _t("deviceShellScript", "/deviceManagement/deviceShellScripts", "Scripts", DMS, E),
    _t("deviceCustomAttributeShellScript", "/deviceManagement/deviceCustomAttributeShellScripts", "Scripts",
       DMS, E),
    _t("deviceHealthScript", "/deviceManagement/deviceHealthScripts", "Scripts", DMS, E),
    _t("mobileApp", "/deviceAppManagement/mobileApps", "Apps", DMA, E, v1=True),
    _t("mobileAppConfiguration", "/deviceAppManagement/mobileAppConfigurations", "Apps", DMA, E, v1=True),
    _t("targetedManagedAppConfiguration", "/deviceAppManagement/targetedManagedAppConfigurations",
       "App Protection", DMA, E, v1=True),
    _t("iosManagedAppProtection", "/deviceAppManagement/iosManagedAppProtections", "App Protection", DMA, E,
       v1=True),
    _t("androidManagedAppProtection", "/deviceAppManagement/androidManagedAppProtections", "App Protection",
       DMA, E, v1=True),
    _t("windowsManagedAppProtection", "/deviceAppManagement/windowsManagedAppProtections", "App Protection",
       DMA, E),
    _t("windowsInformationProtectionPolicy", "/deviceAppManagement/windowsInformationProtectionPolicies",
       "App Protection", DMA, E, v1=True),
    # no $expand on the policy set list: assignments per item through $batch
    _t("policySet", "/deviceAppManagement/policySets", "Configuration", DMC, B),
    _t("windowsAutopilotDeploymentProfile", "/deviceManagement/windowsAutopilotDeploymentProfiles", "Enrollment",
       DMSC, E),
    _t("deviceEnrollmentConfiguration", "/deviceManagement/deviceEnrollmentConfigurations", "Enrollment", DMSC, E,
       v1=True),
    _t("appleUserInitiatedEnrollmentProfile", "/deviceManagement/appleUserInitiatedEnrollmentProfiles",
       "Enrollment", DMSC, E),
    _t("windowsFeatureUpdateProfile", "/deviceManagement/windowsFeatureUpdateProfiles", "Update Management",
       DMC, E),
    _t("windowsQualityUpdateProfile", "/deviceManagement/windowsQualityUpdateProfiles", "Update Management",
       DMC, E),
    _t("windowsDriverUpdateProfile", "/deviceManagement/windowsDriverUpdateProfiles", "Update Management",
       DMC, E),
    _t("termsAndConditions", "/deviceManagement/termsAndConditions", "Tenant Administration", DMSC, B, v1=True),
    _t("intuneBrandingProfile", "/deviceManagement/intuneBrandingProfiles", "Tenant Administration", DMA, E),
    _t("deviceCategory", "/deviceManagement/deviceCategories", "Tenant Administration", DMC, N, v1=True),
    _t("conditionalAccessPolicy", "/identity/conditionalAccess/policies", "Entra ID", "Policy.Read.All", N,
       v1=True),
    _t("cloudPcProvisioningPolicy", "/deviceManagement/virtualEndpoint/provisioningPolicies", "Windows 365",
       "CloudPC.Read.All", E),
)

FOUNDATIONS: tuple[PolicyType, ...] = (
    _t("roleScopeTag", "/deviceManagement/roleScopeTags", "Foundations", RBAC, N, foundation=True,
       list_filter="isBuiltIn eq false"),
    _t("assignmentFilter", "/deviceManagement/assignmentFilters", "Foundations", DMC, N, foundation=True),
    _t("notificationMessageTemplate", "/deviceManagement/notificationMessageTemplates", "Foundations", DMSC, N,
       foundation=True),
    _t("roleDefinition", "/deviceManagement/roleDefinitions", "Foundations", RBAC, N, foundation=True),
)

BY_KEY: dict[str, PolicyType] = {t.key: t for t in POLICY_TYPES + FOUNDATIONS}
CATEGORIES: tuple[str, ...] = tuple(sorted({t.category for t in POLICY_TYPES}))


class UnknownPolicyTypes(ValueError):
    def __init__(self, unknown: Iterable[str]) -> None:
        self.unknown = sorted(unknown)
        super().__init__(f"unknown policy type(s): {', '.join(self.unknown)}")


@dataclass(frozen=True)
class RuntimeRegistry:
    """The registry as configured for this deployment (ENABLED_/DISABLED_POLICY_TYPES)."""

    enabled: frozenset[str]

    def is_enabled(self, key: str) -> bool:
        return key in self.enabled

    @property
    def enabled_policy_types(self) -> list[PolicyType]:
        return [t for t in POLICY_TYPES if t.key in self.enabled]

    @property
    def enabled_foundations(self) -> list[PolicyType]:
        return [t for t in FOUNDATIONS if t.key in self.enabled]


def filter_runtime(enabled: Iterable[str] = (), disabled: Iterable[str] = ()) -> RuntimeRegistry:
    """Enabled = ENABLED_POLICY_TYPES (all when empty) minus DISABLED_POLICY_TYPES; unknown keys raise."""
    enabled, disabled = set(enabled), set(disabled)
    unknown = (enabled | disabled) - set(BY_KEY)
    if unknown:
        raise UnknownPolicyTypes(unknown)
    base = enabled or set(BY_KEY)
    return RuntimeRegistry(frozenset(base - disabled))
