"""The policy-type registry (facts from Microsoft Graph's documentation of the Intune collections) and the
runtime resolver."""

from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple


class Assignments(StrEnum):
    EXPAND = "expand"  # `$expand=assignments` on the list call
    BATCH = "batch"    # per item `/{id}/assignments`, packed into JSON $batch requests
    NONE = "none"      # the type has no assignments


# Server-maintained on every type: never part of an object's configuration (see domain/configuration.py).
SERVER_MAINTAINED: frozenset[str] = frozenset({
    "createdDateTime", "lastModifiedDateTime", "modifiedDateTime", "version", "isAssigned"})


class SubResource(NamedTuple):
    """Configuration kept below the object, read per item (through $batch) and stored under `key`.

    `children` are read per element of this one (e.g. each definition value's presentation values)."""

    key: str
    path: str
    expand: str | None = None
    children: tuple["SubResource", ...] = ()
    # reporting fields of each element (besides SERVER_MAINTAINED): kept in the payload, never hashed
    not_configuration: frozenset[str] = frozenset()
    # the largest page the endpoint serves (`$top`); None: its default page
    top: int | None = None

    def relative_url(self, parent: str) -> str:
        params = ([f"$expand={self.expand}"] if self.expand else []) + ([f"$top={self.top}"] if self.top else [])
        return f"{parent}/{self.path}" + (f"?{'&'.join(params)}" if params else "")


class PolicyType(NamedTuple):
    key: str
    collection: str
    category: str
    permission: str
    assignments: Assignments
    api_version: str = "beta"
    v1_available: bool = False
    foundation: bool = False
    list_filter: str | None = None
    supports_top: bool = True
    # where the object's own name is (settings catalog: `name`; branding: `profileName`)
    name_field: str = "displayName"
    # where its scope tags are (policy sets: `roleScopeTags`)
    scope_tags_field: str = "roleScopeTagIds"
    sub_resources: tuple[SubResource, ...] = ()
    # navigation properties read by one GET of the object itself (policy sets: `items`); with BATCH
    # assignments, `assignments` joins them in the same request
    item_expand: tuple[str, ...] = ()
    # properties the list leaves empty and only a GET of the object returns (scripts' content)
    detail_fields: tuple[str, ...] = ()
    # reporting / telemetry fields of this type (besides SERVER_MAINTAINED): kept, never hashed
    not_configuration: frozenset[str] = frozenset()
    # ids of built-in objects a filter leaves out of the listing (links to them are marked built-in)
    built_in_ids: frozenset[str] = frozenset()
    # where a name is looked for when `name_field` is empty (branding: none, `displayName` is the company's)
    name_fallbacks: tuple[str, ...] = ("displayName", "name")
    # listed fields that move whenever the object's configuration does (CHANGE_MARKERS below): an incremental
    # read skips the sub-resources and detail reads of an object whose markers have not moved
    change_markers: tuple[str, ...] = ()

    @property
    def reads_below(self) -> bool:
        """Whether reading the type takes requests per object (what an incremental read may skip)."""
        return bool(self.sub_resources or self.item_expand or self.detail_fields
                    or self.assignments is Assignments.BATCH)

    @property
    def display_name(self) -> str:
        """The Intune admin center's name of the type."""
        return DISPLAY_NAMES[self.key]

    @property
    def categories(self) -> tuple[str, ...]:
        """Every category the inventory lists this type's items under (its own first)."""
        return (self.category, *LISTED_ALSO_UNDER.get(self.key, ()))

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "display_name": self.display_name,
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


def _fields(*names: str) -> frozenset[str]:
    return frozenset(names)


# Settings of settings-catalog-based policies (configuration and compliance alike), paged: 25 a page unless
# asked for more, up to 1,000 (the public tools read them with $top=1000 after 25-item pages lost settings).
CATALOG_SETTINGS = SubResource("settings", "settings", top=1000)
# Administrative templates: each definition value with its definition; its presentation values (the
# text boxes, lists and drop-downs) one level below. Graph refuses nested $expand here (depth 1).
DEFINITION_VALUES = SubResource("definitionValues", "definitionValues", expand="definition", children=(
    SubResource("presentationValues", "presentationValues", expand="presentation"),))
# Legacy endpoint-security templates and security baselines keep their settings below the intent.
INTENT_SETTINGS = SubResource("settings", "settings")
# A compliance policy's actions for noncompliance (block, notify, retire; grace periods, notification
# templates): a relationship, absent from the list; each rule's action items one $expand below it.
SCHEDULED_ACTIONS = SubResource("scheduledActionsForRule", "scheduledActionsForRule",
                                expand="scheduledActionConfigurations")
APP_DEPLOYMENT_COUNTS = _fields("deployedAppCount")
SCRIPT_CONTENT = ("scriptContent",)


_DECLARED: tuple[PolicyType, ...] = (
    _t("deviceConfiguration", "/deviceManagement/deviceConfigurations", "Configuration", DMC, E, v1=True),
    _t("settingsCatalogPolicy", "/deviceManagement/configurationPolicies", "Configuration", DMC, E,
       name_field="name", sub_resources=(CATALOG_SETTINGS,), not_configuration=_fields("settingCount")),
    _t("groupPolicyConfiguration", "/deviceManagement/groupPolicyConfigurations", "Configuration", DMC, E,
       sub_resources=(DEFINITION_VALUES,)),
    _t("hardwareConfiguration", "/deviceManagement/hardwareConfigurations", "Configuration", DMC, E),
    _t("deviceCompliancePolicy", "/deviceManagement/deviceCompliancePolicies", "Compliance", DMC, E, v1=True,
       sub_resources=(SCHEDULED_ACTIONS,)),
    _t("compliancePolicy", "/deviceManagement/compliancePolicies", "Compliance", DMC, E,
       name_field="name", sub_resources=(CATALOG_SETTINGS,), not_configuration=_fields("settingCount")),
    _t("deviceComplianceScript", "/deviceManagement/deviceComplianceScripts", "Compliance", DMS, N,
       detail_fields=("detectionScriptContent",)),
    _t("endpointSecurityIntent", "/deviceManagement/intents", "Endpoint Security", DMC, E,
       sub_resources=(INTENT_SETTINGS,), not_configuration=_fields("isMigratingToConfigurationPolicy")),
    _t("deviceManagementScript", "/deviceManagement/deviceManagementScripts", "Scripts", DMS, E,
       detail_fields=SCRIPT_CONTENT),
    _t("deviceShellScript", "/deviceManagement/deviceShellScripts", "Scripts", DMS, E, detail_fields=SCRIPT_CONTENT),
    _t("deviceCustomAttributeShellScript", "/deviceManagement/deviceCustomAttributeShellScripts", "Scripts",
       DMS, E, detail_fields=SCRIPT_CONTENT),
    _t("deviceHealthScript", "/deviceManagement/deviceHealthScripts", "Scripts", DMS, E,
       not_configuration=_fields("highestAvailableVersion"),
       detail_fields=("detectionScriptContent", "remediationScriptContent")),
    _t("mobileApp", "/deviceAppManagement/mobileApps", "Apps", DMA, E, v1=True,
       not_configuration=_fields("uploadState", "publishingState", "dependentAppCount", "supersedingAppCount",
                                 "supersededAppCount", "usedLicenseCount", "totalLicenseCount")),
    _t("mobileAppConfiguration", "/deviceAppManagement/mobileAppConfigurations", "Apps", DMA, E, v1=True),
    _t("targetedManagedAppConfiguration", "/deviceAppManagement/targetedManagedAppConfigurations",
       "App Protection", DMA, E, v1=True, not_configuration=APP_DEPLOYMENT_COUNTS),
    _t("iosManagedAppProtection", "/deviceAppManagement/iosManagedAppProtections", "App Protection", DMA, E,
       v1=True, not_configuration=APP_DEPLOYMENT_COUNTS),
    _t("androidManagedAppProtection", "/deviceAppManagement/androidManagedAppProtections", "App Protection",
       DMA, E, v1=True, not_configuration=APP_DEPLOYMENT_COUNTS),
    _t("windowsManagedAppProtection", "/deviceAppManagement/windowsManagedAppProtections", "App Protection",
       DMA, E, not_configuration=APP_DEPLOYMENT_COUNTS),
    _t("windowsInformationProtectionPolicy", "/deviceAppManagement/windowsInformationProtectionPolicies",
       "App Protection", DMA, E, v1=True),
    # no $expand on the policy set list: members and assignments per set (`/{id}?$expand=items,assignments`)
    # through $batch; `status`/`errorCode` report the deployment, not the set's configuration
    _t("policySet", "/deviceAppManagement/policySets", "Configuration", DMC, B, scope_tags_field="roleScopeTags",
       item_expand=("items",), not_configuration=_fields("status", "errorCode")),
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
       DMC, E, not_configuration=_fields("deviceReporting", "newUpdates", "inventorySyncStatus")),
    _t("termsAndConditions", "/deviceManagement/termsAndConditions", "Tenant Administration", DMSC, B, v1=True),
    # `displayName` of a branding profile is the company name users see, the same on every profile
    _t("intuneBrandingProfile", "/deviceManagement/intuneBrandingProfiles", "Tenant Administration", DMA, E,
       name_field="profileName", name_fallbacks=()),
    _t("deviceCategory", "/deviceManagement/deviceCategories", "Tenant Administration", DMC, N, v1=True),
    _t("conditionalAccessPolicy", "/identity/conditionalAccess/policies", "Entra ID", "Policy.Read.All", N,
       v1=True),
    _t("cloudPcProvisioningPolicy", "/deviceManagement/virtualEndpoint/provisioningPolicies", "Windows 365",
       "CloudPC.Read.All", E),
)

# Change markers, per type that reads below its objects: only fields Microsoft documents as the object's
# modification time or its configuration's size. A type left out is read whole on every run (policy sets:
# their assignments come with their members; terms and conditions: assignments only, whose changes no listed
# field shows). What a marker misses (a sub-resource changed with no marker moving) the next full read
# catches (FULL_READ_INTERVAL_HOURS).
CHANGE_MARKERS: dict[str, tuple[str, ...]] = {
    "settingsCatalogPolicy": ("lastModifiedDateTime", "settingCount"),  # "Policy last modification date and time"
    "compliancePolicy": ("lastModifiedDateTime", "settingCount"),
    "groupPolicyConfiguration": ("lastModifiedDateTime",),  # "The date and time the entity was last modified"
    "deviceCompliancePolicy": ("lastModifiedDateTime", "version"),
    "endpointSecurityIntent": ("lastModifiedDateTime",),  # "When the intent was last modified"
    "deviceComplianceScript": ("lastModifiedDateTime", "version"),  # detail fields are its own properties
    "deviceManagementScript": ("lastModifiedDateTime",),
    "deviceShellScript": ("lastModifiedDateTime",),
    "deviceCustomAttributeShellScript": ("lastModifiedDateTime",),
    "deviceHealthScript": ("lastModifiedDateTime", "version"),
}
POLICY_TYPES: tuple[PolicyType, ...] = tuple(t._replace(change_markers=CHANGE_MARKERS.get(t.key, ()))
                                             for t in _DECLARED)

FOUNDATIONS: tuple[PolicyType, ...] = (
    _t("roleScopeTag", "/deviceManagement/roleScopeTags", "Foundations", RBAC, N, foundation=True,
       list_filter="isBuiltIn eq false", built_in_ids=_fields("0")),
    _t("assignmentFilter", "/deviceManagement/assignmentFilters", "Foundations", DMC, N, foundation=True,
       scope_tags_field="roleScopeTags", not_configuration=_fields("payloads")),  # server-derived: what uses it
    _t("notificationMessageTemplate", "/deviceManagement/notificationMessageTemplates", "Foundations", DMSC, N,
       foundation=True),
    _t("roleDefinition", "/deviceManagement/roleDefinitions", "Foundations", RBAC, N, foundation=True),
)

BY_KEY: dict[str, PolicyType] = {t.key: t for t in POLICY_TYPES + FOUNDATIONS}
CATEGORIES: tuple[str, ...] = tuple(sorted({t.category for t in POLICY_TYPES}))

ENDPOINT_SECURITY = "Endpoint Security"
# Settings-catalog policies of the endpoint-security and baseline template families are listed under Endpoint
# Security (domain/items.py `category_of`), as the admin center shows them; so a selection of that category
# reads the settings catalog too.
LISTED_ALSO_UNDER: dict[str, tuple[str, ...]] = {"settingsCatalogPolicy": (ENDPOINT_SECURITY,)}

# What the Intune admin center calls each type (the blade or profile type an administrator knows it by).
DISPLAY_NAMES: dict[str, str] = {
    "deviceConfiguration": "Configuration profiles (templates)",
    "settingsCatalogPolicy": "Settings catalog",
    "groupPolicyConfiguration": "Administrative templates",
    "hardwareConfiguration": "BIOS configurations",
    "deviceCompliancePolicy": "Compliance policies",
    "compliancePolicy": "Compliance policies (settings catalog)",
    "deviceComplianceScript": "Compliance scripts",
    "endpointSecurityIntent": "Security baselines and endpoint security (templates)",
    "deviceManagementScript": "Platform scripts (Windows)",
    "deviceShellScript": "Shell scripts (macOS)",
    "deviceCustomAttributeShellScript": "Custom attributes (macOS)",
    "deviceHealthScript": "Remediations",
    "mobileApp": "Apps",
    "mobileAppConfiguration": "App configuration policies (managed devices)",
    "targetedManagedAppConfiguration": "App configuration policies (managed apps)",
    "iosManagedAppProtection": "App protection policies (iOS/iPadOS)",
    "androidManagedAppProtection": "App protection policies (Android)",
    "windowsManagedAppProtection": "App protection policies (Windows)",
    "windowsInformationProtectionPolicy": "Windows Information Protection",
    "policySet": "Policy sets",
    "windowsAutopilotDeploymentProfile": "Windows Autopilot deployment profiles",
    "deviceEnrollmentConfiguration": "Enrollment restrictions and status pages",
    "appleUserInitiatedEnrollmentProfile": "Apple enrollment profiles (user-initiated)",
    "windowsFeatureUpdateProfile": "Feature updates for Windows 10 and later",
    "windowsQualityUpdateProfile": "Quality updates for Windows 10 and later",
    "windowsDriverUpdateProfile": "Driver updates for Windows 10 and later",
    "termsAndConditions": "Terms and conditions",
    "intuneBrandingProfile": "Customization",
    "deviceCategory": "Device categories",
    "conditionalAccessPolicy": "Conditional Access",
    "cloudPcProvisioningPolicy": "Windows 365 provisioning policies",
    "roleScopeTag": "Scope tags",
    "assignmentFilter": "Filters",
    "notificationMessageTemplate": "Notifications",
    "roleDefinition": "Roles",
}

# ... and each category (the admin center's node for it).
CATEGORY_NAMES: dict[str, str] = {
    "Apps": "Apps",
    "App Protection": "App protection",
    "Compliance": "Compliance",
    "Configuration": "Configuration",
    ENDPOINT_SECURITY: "Endpoint security",
    "Enrollment": "Enrollment",
    "Entra ID": "Microsoft Entra ID",
    "Scripts": "Scripts and remediations",
    "Tenant Administration": "Tenant administration",
    "Update Management": "Windows updates",
    "Windows 365": "Windows 365",
    "Foundations": "Tenant administration (scope tags, filters, roles)",
}


def types_of_category(category: str) -> list[str]:
    """The policy types a selection of `category` syncs: those whose items the inventory lists under it."""
    return [t.key for t in POLICY_TYPES if category in t.categories]


class UnknownPolicyTypes(ValueError):
    def __init__(self, unknown: Iterable[str]) -> None:
        self.unknown = sorted(unknown)
        super().__init__(f"unknown policy type(s): {', '.join(self.unknown)}")


class RuntimeRegistry(NamedTuple):
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
