"""Object shapes for the Graph stand-in, one or more per registry type, written from the property lists of
Microsoft Graph's (beta) resource reference: the same fields, nesting, enum values and `@odata.type`
subtypes a real tenant returns. The stand-in fills in ids, names and the values that move (see
`graph_standin.GraphStandIn.item`); these are the rest.

Keys starting with `_` are instructions to the generator, never sent:
* `_setting`: the configuration field a scripted "modify" changes (a real setting, not a timestamp);
* `_no_scope_tags`: the type has no `roleScopeTagIds` (Entra objects);
* `_noise`: reporting fields the generator moves with the tenant's noise epoch;
* `_null_name`: the object's name field is null (a default branding profile).
"""

from __future__ import annotations

from typing import Any

G = "#microsoft.graph."
B64_PS1 = "V3JpdGUtT3V0cHV0ICJDb21wbGlhbnQi"  # Write-Output "Compliant"
B64_SH = "IyEvYmluL2Jhc2gKZWNobyAiaGVsbG8i"  # #!/bin/bash\necho "hello"

_WIN_OS = {"v8_0": False, "v8_1": False, "v10_0": False, "v10_1607": False, "v10_1703": False, "v10_1709": False,
           "v10_1803": False, "v10_1809": False, "v10_1903": False, "v10_1909": False, "v10_2004": False,
           "v10_2H20": False, "v10_21H1": True}
_APPLICABILITY = {"deviceManagementApplicabilityRuleOsEdition": None,
                  "deviceManagementApplicabilityRuleOsVersion": None,
                  "deviceManagementApplicabilityRuleDeviceMode": None}
_APP_COMMON = {"largeIcon": None, "isFeatured": False, "privacyInformationUrl": None,
               "informationUrl": "https://contoso.example/apps", "owner": "IT", "developer": "", "notes": "",
               "uploadState": 1, "publishingState": "published", "isAssigned": True, "dependentAppCount": 0,
               "supersedingAppCount": 0, "supersededAppCount": 0}
_APP_PROTECTION = {"periodOfflineBeforeAccessCheck": "PT12H", "periodOnlineBeforeAccessCheck": "PT30M",
                   "allowedInboundDataTransferSources": "allApps",
                   "allowedOutboundDataTransferDestinations": "managedApps",
                   "organizationalCredentialsRequired": False,
                   "allowedOutboundClipboardSharingLevel": "managedAppsWithPasteIn",
                   "dataBackupBlocked": True, "deviceComplianceRequired": True,
                   "managedBrowserToOpenLinksRequired": False, "saveAsBlocked": True,
                   "periodOfflineBeforeWipeIsEnforced": "P90D", "pinRequired": True, "maximumPinRetries": 5,
                   "simplePinBlocked": True, "minimumPinLength": 6, "pinCharacterSet": "numeric",
                   "periodBeforePinReset": "PT0S", "allowedDataStorageLocations": ["oneDriveForBusiness", "sharePoint"],
                   "contactSyncBlocked": False, "printBlocked": True, "fingerprintBlocked": False,
                   "disableAppPinIfDevicePinIsSet": False, "minimumRequiredOsVersion": None,
                   "minimumWarningOsVersion": None, "minimumRequiredAppVersion": None,
                   "minimumWarningAppVersion": None, "isAssigned": True, "targetedAppManagementLevels": "unspecified",
                   "appGroupType": "allMicrosoftApps", "deployedAppCount": 12,
                   "_noise": ["deployedAppCount"], "_setting": "minimumPinLength"}


def _choice(definition: str, value: str, children: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"@odata.type": f"{G}deviceManagementConfigurationChoiceSettingInstance",
            "settingDefinitionId": definition, "settingInstanceTemplateReference": None,
            "choiceSettingValue": {"@odata.type": f"{G}deviceManagementConfigurationChoiceSettingValue",
                                   "settingValueTemplateReference": None, "value": f"{definition}_{value}",
                                   "children": children or []}}


def _simple_int(definition: str, value: int) -> dict[str, Any]:
    return {"@odata.type": f"{G}deviceManagementConfigurationSimpleSettingInstance",
            "settingDefinitionId": definition, "settingInstanceTemplateReference": None,
            "simpleSettingValue": {"@odata.type": f"{G}deviceManagementConfigurationIntegerSettingValue",
                                   "settingValueTemplateReference": None, "value": value}}


def catalog_setting(policy_index: int, n: int, revision: int = 1) -> dict[str, Any]:
    """A `deviceManagementConfigurationSetting`: choice, integer, and a group collection whose nested choice
    is the setting a scripted "modify" changes for the first setting (so diffs have a deep path)."""
    base = f"device_vendor_msft_policy_config_area{policy_index % 9}_setting{n}"
    if n == 0:
        instance = {"@odata.type": f"{G}deviceManagementConfigurationGroupSettingCollectionInstance",
                    "settingDefinitionId": f"{base}_group", "settingInstanceTemplateReference": None,
                    "groupSettingCollectionValue": [{
                        "settingValueTemplateReference": None,
                        "children": [_choice(f"{base}_group_mode", f"{revision}"),
                                     _simple_int(f"{base}_group_limit", 30)]}]}
    elif n % 3 == 1:
        instance = _simple_int(base, 10 + n)
    else:
        instance = _choice(base, str(n % 2))
    return {"id": str(n), "settingInstance": instance}


def linux_compliance_setting(policy_index: int, n: int, revision: int = 1) -> dict[str, Any]:
    if n == 0:
        instance = _choice("linux_distribution_alloweddistros", f"ubuntu_{revision}", [
            _simple_int("linux_distribution_alloweddistros_item_minimumversion", 22)])
    else:
        instance = _choice(f"linux_deviceencryption_required_{n}", "true")
    return {"id": str(n), "settingInstance": instance}


def intent_setting(intent_index: int, n: int, revision: int = 1) -> dict[str, Any]:
    kinds = [("deviceManagementBooleanSettingInstance", "true" if revision % 2 else "false"),
             ("deviceManagementIntegerSettingInstance", str(5 + n)),
             ("deviceManagementStringSettingInstance", f'"rule-{n}"')]
    kind, value = kinds[n % 3]
    return {"@odata.type": f"{G}{kind}", "id": f"{intent_index}-{n}",
            "definitionId": f"deviceConfiguration--windows10EndpointProtectionConfiguration_setting{n}",
            "valueJson": value}


def definition_value(policy_index: int, n: int, revision: int = 1) -> dict[str, Any]:
    """A `groupPolicyDefinitionValue` with `$expand=definition` (its presentation values are read apart)."""
    return {"id": f"{policy_index:04d}{n:04d}-0000-4000-8000-00000000dv00", "enabled": n % 4 != 3,
            "configurationType": "policy", "createdDateTime": "2026-01-15T08:00:00Z",
            "lastModifiedDateTime": "2026-02-01T08:00:00Z",
            "definition": {"id": f"0000{n:04d}-5cdf-4bb3-b2c2-d00e5a255514",
                           "classType": "machine" if n % 2 else "user",
                           "displayName": f"Administrative template setting {n}",
                           "explainText": "This policy setting lets you configure the behaviour.",
                           "categoryPath": "\\Windows Components\\OneDrive", "supportedOn": "At least Windows 10",
                           "policyType": "admxBacked", "hasRelatedDefinitions": False,
                           "groupPolicyCategoryId": "2b8e1e6a-6c57-4a59-b1a4-3a5b0c0f1e11",
                           "minDeviceCspVersion": "5.0", "minUserCspVersion": "5.0", "version": "1.0",
                           "lastModifiedDateTime": "2025-10-01T00:00:00Z"}}


def presentation_value(value_id: str, n: int, revision: int = 1) -> dict[str, Any]:
    return {"@odata.type": f"{G}groupPolicyPresentationValueText", "id": f"{value_id[:-4]}pv{n:02d}",
            "value": f"https://contoso.example/sync/{revision}", "createdDateTime": "2026-01-15T08:00:00Z",
            "lastModifiedDateTime": "2026-02-01T08:00:00Z",
            "presentation": {"@odata.type": f"{G}groupPolicyPresentationTextBox",
                             "id": f"{n:08d}-1111-4a4a-8b8b-9c9c9c9c9c9c", "label": "Tenant URL",
                             "lastModifiedDateTime": "2025-10-01T00:00:00Z", "defaultValue": "",
                             "required": True, "maxLength": 1023}}


def policy_set_items(members: list[tuple[str, str, str, str | None]]) -> list[dict[str, Any]]:
    """`policySetItem`s for (subtype, payloadId, display name, itemType) — itemType None: the subtype's own
    (`managedAppProtectionPolicySetItem` says which protection: `#microsoft.graph.iosManagedAppProtection`)."""
    items = []
    for n, (subtype, payload_id, name, item_type) in enumerate(members):
        item: dict[str, Any] = {"@odata.type": f"{G}{subtype}", "id": f"{payload_id[:-4]}ps{n:02d}",
                "createdDateTime": "2026-01-15T08:00:00Z", "lastModifiedDateTime": "2026-02-01T08:00:00Z",
                "payloadId": payload_id, "itemType": f"{G}{item_type or subtype.replace('PolicySetItem', '')}",
                "displayName": name, "status": "success", "errorCode": "noError", "guidedDeploymentTags": []}
        if subtype == "mobileAppPolicySetItem":
            item["intent"] = "required"
            item["settings"] = None
        if subtype == "managedAppProtectionPolicySetItem":
            item["targetedAppManagementLevels"] = "unspecified"
        items.append(item)
    return items


def scheduled_actions(policy_id: str, revision: int = 1) -> list[dict[str, Any]]:
    """A compliance policy's `scheduledActionsForRule` with `$expand=scheduledActionConfigurations`: block at
    once, notify after a grace period (the value a "modify below" changes), retire much later."""
    rule_id = f"{policy_id[:-4]}sa00"
    actions = [("block", 0, ""), ("notification", 24 * revision, "7b9e8c3a-4f52-4a4c-9d1e-5a6b7c8d9e0f"),
               ("retire", 4320, "")]
    return [{"@odata.type": f"{G}deviceComplianceScheduledActionForRule", "id": rule_id,
             "ruleName": "PasswordRequired",
             "scheduledActionConfigurations@odata.context": "https://graph.microsoft.com/beta/$metadata#"
                                                            "scheduledActionConfigurations",
             "scheduledActionConfigurations": [
                 {"@odata.type": f"{G}deviceComplianceActionItem", "id": f"{rule_id[:-4]}ac{n:02d}",
                  "gracePeriodHours": hours, "actionType": action, "notificationTemplateId": template,
                  "notificationMessageCCList": []} for n, (action, hours, template) in enumerate(actions)]}]


SHAPES: dict[str, list[dict[str, Any]]] = {
    "deviceConfiguration": [
        {"@odata.type": f"{G}windows10GeneralConfiguration", **_APPLICABILITY, "supportsScopeTags": True,
         "passwordBlockSimple": True, "passwordRequired": True, "passwordMinimumLength": 8,
         "passwordRequiredType": "alphanumeric", "defenderRequireRealTimeMonitoring": True,
         "defenderScanType": "full", "defenderScheduledScanTime": "11:00:00.0000000",
         "smartScreenEnableAppInstallControl": True, "bluetoothBlocked": False, "cameraBlocked": False,
         "edgeBlockPopups": True, "windowsSpotlightBlocked": False, "storageRequireMobileDeviceEncryption": True,
         "_setting": "passwordMinimumLength"},
        {"@odata.type": f"{G}iosGeneralDeviceConfiguration", **_APPLICABILITY, "supportsScopeTags": True,
         "passcodeRequired": True, "passcodeMinimumLength": 6, "passcodeRequiredType": "alphanumeric",
         "passcodeMinutesOfInactivityBeforeLock": 5, "cameraBlocked": False, "iCloudBlockBackup": True,
         "appStoreBlocked": False, "safariBlockAutofill": True, "airDropBlocked": False,
         "compliantAppListType": "none", "compliantAppsList": [], "_setting": "passcodeMinimumLength"},
        {"@odata.type": f"{G}androidWorkProfileGeneralDeviceConfiguration", **_APPLICABILITY,
         "supportsScopeTags": True, "passwordMinimumLength": 6, "passwordRequiredType": "deviceDefault",
         "passwordMinutesOfInactivityBeforeScreenTimeout": 15, "workProfileBlockCamera": False,
         "workProfileDataSharingType": "preventAny", "securityRequireVerifyApps": True,
         "workProfileBlockScreenCapture": True, "_setting": "passwordMinimumLength"},
        {"@odata.type": f"{G}macOSCustomConfiguration", **_APPLICABILITY, "supportsScopeTags": True,
         "payloadName": "Wi-Fi Corp", "payloadFileName": "wifi.mobileconfig",
         "payload": "PD94bWwgdmVyc2lvbj0iMS4wIiBlbmNvZGluZz0iVVRGLTgiPz4=", "deploymentChannel": "deviceChannel",
         "_setting": "payloadName"},
        {"@odata.type": f"{G}windows10CustomConfiguration", **_APPLICABILITY, "supportsScopeTags": True,
         "omaSettings": [{"@odata.type": f"{G}omaSettingInteger", "displayName": "Allow telemetry",
                          "description": None, "omaUri": "./Device/Vendor/MSFT/Policy/Config/System/AllowTelemetry",
                          "secretReferenceValueId": None, "isEncrypted": False, "value": 1, "isReadOnly": False}],
         "_setting": "omaSettings"},
        {"@odata.type": f"{G}macOSGeneralDeviceConfiguration", **_APPLICABILITY, "supportsScopeTags": True,
         "passwordRequired": True, "passwordMinimumLength": 10, "passwordBlockSimple": True,
         "firewallEnabled": True, "gatekeeperAllowedAppSource": "macAppStoreAndIdentifiedDevelopers",
         "_setting": "passwordMinimumLength"},
    ],
    "deviceCompliancePolicy": [
        {"@odata.type": f"{G}windows10CompliancePolicy", "passwordRequired": True, "passwordMinimumLength": 8,
         "passwordRequiredType": "alphanumeric", "osMinimumVersion": "10.0.19045", "bitLockerEnabled": True,
         "secureBootEnabled": True, "codeIntegrityEnabled": True, "storageRequireEncryption": True,
         "activeFirewallRequired": True, "defenderEnabled": True, "rtpEnabled": True, "antivirusRequired": True,
         "deviceThreatProtectionEnabled": False, "deviceThreatProtectionRequiredSecurityLevel": "unavailable",
         "_setting": "osMinimumVersion"},
        {"@odata.type": f"{G}iosCompliancePolicy", "passcodeRequired": True, "passcodeMinimumLength": 6,
         "passcodeBlockSimple": True, "osMinimumVersion": "17.0", "securityBlockJailbrokenDevices": True,
         "managedEmailProfileRequired": False, "deviceThreatProtectionEnabled": False,
         "_setting": "osMinimumVersion"},
        {"@odata.type": f"{G}androidWorkProfileCompliancePolicy", "passwordRequired": True,
         "passwordMinimumLength": 6, "passwordRequiredType": "numericComplex", "securityBlockJailbrokenDevices": True,
         "osMinimumVersion": "12.0", "securityRequireSafetyNetAttestationBasicIntegrity": True,
         "storageRequireEncryption": True, "_setting": "osMinimumVersion"},
        {"@odata.type": f"{G}macOSCompliancePolicy", "passwordRequired": True, "passwordMinimumLength": 10,
         "osMinimumVersion": "14.0", "systemIntegrityProtectionEnabled": True, "firewallEnabled": True,
         "storageRequireEncryption": True, "_setting": "osMinimumVersion"},
    ],
    "settingsCatalogPolicy": [
        {"platforms": "windows10", "technologies": "mdm", "creationSource": None, "settingCount": 0,
         "isAssigned": True, "priorityMetaData": None,
         "templateReference": {"templateId": "", "templateFamily": "none", "templateDisplayName": None,
                               "templateDisplayVersion": None}},
        {"platforms": "windows10", "technologies": "mdm,microsoftSense", "creationSource": None, "settingCount": 0,
         "isAssigned": True, "priorityMetaData": None,
         "templateReference": {"templateId": "6c4b3a2e-8c6f-4e1b-9c0f-000000000001_1",
                               "templateFamily": "endpointSecurityFirewall",
                               "templateDisplayName": "Windows Firewall", "templateDisplayVersion": "Version 1"}},
        {"platforms": "macOS", "technologies": "mdm,appleRemoteManagement", "creationSource": None,
         "settingCount": 0, "isAssigned": False, "priorityMetaData": None,
         "templateReference": {"templateId": "", "templateFamily": "none", "templateDisplayName": None,
                               "templateDisplayVersion": None}},
        {"platforms": "windows10", "technologies": "mdm", "creationSource": None, "settingCount": 0,
         "isAssigned": True, "priorityMetaData": None,
         "templateReference": {"templateId": "66df8dce-0166-4b82-92f7-1f74e3ca17a3_4",
                               "templateFamily": "baseline",
                               "templateDisplayName": "Security Baseline for Windows 10 and later",
                               "templateDisplayVersion": "Version 24H2"}},
    ],
    "groupPolicyConfiguration": [
        {"policyConfigurationIngestionType": "builtIn"},
        {"policyConfigurationIngestionType": "mixed"},
    ],
    "hardwareConfiguration": [
        {"hardwareConfigurationFormat": "surface", "perDevicePasswordDisabled": False, "fileName": "uefi.dfci",
         "configurationFileContent": "PD94bWwgdmVyc2lvbj0iMS4wIj8+", "_setting": "perDevicePasswordDisabled"},
        {"hardwareConfigurationFormat": "dell", "perDevicePasswordDisabled": True, "fileName": "bios.cctk",
         "configurationFileContent": "W0Jpb3NDb25maWdd", "_setting": "perDevicePasswordDisabled"},
    ],
    "compliancePolicy": [
        {"platforms": "linux", "technologies": "linuxMdm", "creationSource": None, "settingCount": 0,
         "isAssigned": True,
         "templateReference": {"templateId": "", "templateFamily": "none", "templateDisplayName": None,
                               "templateDisplayVersion": None}},
    ],
    "deviceComplianceScript": [
        {"publisher": "Contoso IT", "version": "1", "detectionScriptContent": B64_PS1, "runAsAccount": "system",
         "enforceSignatureCheck": False, "runAs32Bit": False, "_setting": "detectionScriptContent"},
    ],
    "endpointSecurityIntent": [
        {"templateId": "4356d05c-a4ab-4a07-9ece-739f7c792910", "isAssigned": True,
         "isMigratingToConfigurationPolicy": False},
        {"templateId": "034ccd46-190c-4afc-adf1-ad7cc11262eb", "isAssigned": False,
         "isMigratingToConfigurationPolicy": False},
    ],
    "deviceManagementScript": [
        {"enforceSignatureCheck": False, "fileName": "configure.ps1", "runAs32Bit": False, "runAsAccount": "system",
         "scriptContent": B64_PS1, "_setting": "scriptContent"},
    ],
    "deviceShellScript": [
        {"executionFrequency": "PT0S", "retryCount": 3, "blockExecutionNotifications": True,
         "scriptContent": B64_SH, "runAsAccount": "system", "fileName": "setup.sh", "_setting": "retryCount"},
    ],
    "deviceCustomAttributeShellScript": [
        {"customAttributeName": "batteryHealth", "customAttributeType": "string", "scriptContent": B64_SH,
         "runAsAccount": "system", "fileName": "battery.sh", "_setting": "customAttributeName"},
    ],
    "deviceHealthScript": [
        {"publisher": "Contoso IT", "version": "2", "detectionScriptContent": B64_PS1,
         "remediationScriptContent": B64_PS1, "runAsAccount": "system", "enforceSignatureCheck": False,
         "runAs32Bit": False, "isGlobalScript": False, "highestAvailableVersion": None,
         "deviceHealthScriptType": "deviceHealthScript", "detectionScriptParameters": [],
         "remediationScriptParameters": [], "_setting": "runAs32Bit"},
    ],
    "mobileApp": [
        {"@odata.type": f"{G}win32LobApp", **_APP_COMMON, "publisher": "Contoso", "committedContentVersion": "1",
         "fileName": "setup.intunewin", "size": 4821337, "installCommandLine": "setup.exe /quiet",
         "uninstallCommandLine": "setup.exe /uninstall /quiet", "applicableArchitectures": "x64",
         "minimumFreeDiskSpaceInMB": None, "minimumMemoryInMB": None, "minimumNumberOfProcessors": None,
         "minimumCpuSpeedInMHz": None, "minimumSupportedWindowsRelease": "2H20",
         "rules": [{"@odata.type": f"{G}win32LobAppRegistryRule", "ruleType": "detection",
                    "check32BitOn64System": False,
                    "keyPath": "HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso", "valueName": "Version",
                    "operationType": "version", "operator": "greaterThanOrEqual", "comparisonValue": "1.0"}],
         "installExperience": {"runAsAccount": "system", "maxRunTimeInMinutes": 60,
                               "deviceRestartBehavior": "suppress"},
         "returnCodes": [{"returnCode": 0, "type": "success"}, {"returnCode": 3010, "type": "softReboot"}],
         "msiInformation": None, "setupFilePath": "setup.exe", "displayVersion": "1.0.0",
         "allowAvailableUninstall": True, "_setting": "installCommandLine", "_noise": ["uploadState"]},
        {"@odata.type": f"{G}iosStoreApp", **_APP_COMMON, "publisher": "Microsoft Corporation",
         "bundleId": "com.microsoft.Office.Outlook", "appStoreUrl": "https://apps.apple.com/app/id951937596",
         "applicableDeviceType": {"iPad": True, "iPhoneAndIPod": True},
         "minimumSupportedOperatingSystem": {"v8_0": False, "v15_0": False, "v16_0": True, "v17_0": False},
         "_setting": "applicableDeviceType"},
        {"@odata.type": f"{G}androidManagedStoreApp", **_APP_COMMON, "publisher": "Microsoft Corporation",
         "packageId": "com.microsoft.teams", "appIdentifier": "com.microsoft.teams",
         "usedLicenseCount": 0, "totalLicenseCount": 0,
         "appStoreUrl": "https://play.google.com/store/apps/details?id=com.microsoft.teams", "isPrivate": False,
         "isSystemApp": False, "appTracks": [], "supportsOemConfig": False, "_setting": "appTracks",
         "_noise": ["usedLicenseCount"]},
        {"@odata.type": f"{G}macOSMicrosoftEdgeApp", **_APP_COMMON, "publisher": "Microsoft",
         "channel": "stable", "_setting": "channel"},
        {"@odata.type": f"{G}winGetApp", **_APP_COMMON, "publisher": "Microsoft Corporation",
         "packageIdentifier": "9WZDNCRFJ3PZ", "manifestHash": "1b9f2d", "installExperience": {"runAsAccount": "user"},
         "_setting": "installExperience"},
        {"@odata.type": f"{G}webApp", **_APP_COMMON, "publisher": "Contoso", "appUrl": "https://intranet.contoso.example",
         "useManagedBrowser": True, "_setting": "appUrl"},
    ],
    "mobileAppConfiguration": [
        {"@odata.type": f"{G}iosMobileAppConfiguration", "targetedMobileApps": ["0d6c3b36-2e87-4f7c-9b3d-0a2c6a8c1f10"],
         "encodedSettingXml": None,
         "settings": [{"appConfigKey": "IntuneMAMUPN", "appConfigKeyType": "stringType",
                       "appConfigKeyValue": "{{userprincipalname}}"}], "_setting": "settings"},
        {"@odata.type": f"{G}androidManagedStoreAppConfiguration", "targetedMobileApps": [],
         "packageId": "app:com.microsoft.office.outlook", "payloadJson": "eyJrZXkiOiJ2YWx1ZSJ9",
         "permissionActions": [], "appSupportsOemConfig": False, "profileApplicability": "default",
         "connectedAppsEnabled": False, "_setting": "payloadJson"},
    ],
    "targetedManagedAppConfiguration": [
        {"customSettings": [{"name": "com.microsoft.outlook.Mail.FocusedInbox", "value": "false"}],
         "deployedAppCount": 3, "isAssigned": True, "targetedAppManagementLevels": "unspecified",
         "appGroupType": "selectedPublicApps", "_setting": "customSettings", "_noise": ["deployedAppCount"]},
    ],
    "iosManagedAppProtection": [
        {**_APP_PROTECTION, "appDataEncryptionType": "whenDeviceLocked", "minimumRequiredSdkVersion": None,
         "faceIdBlocked": False, "exemptedAppProtocols": [{"name": "Default", "value": "skype;app-settings;"}],
         "thirdPartyKeyboardsBlocked": False}],
    "androidManagedAppProtection": [
        {**_APP_PROTECTION, "screenCaptureBlocked": True, "disableAppEncryptionIfDeviceEncryptionIsEnabled": False,
         "encryptAppData": True, "minimumRequiredPatchVersion": "2024-01-01", "customBrowserPackageId": "",
         "customBrowserDisplayName": ""}],
    "windowsManagedAppProtection": [
        {"allowedInboundDataTransferSources": "none", "allowedOutboundClipboardSharingLevel": "anyDestinationAnySource",
         "allowedOutboundDataTransferDestinations": "none", "appActionIfUnableToAuthenticateUser": "block",
         "maximumAllowedDeviceThreatLevel": "notConfigured", "mobileThreatDefenseRemediationAction": "block",
         "minimumRequiredSdkVersion": None, "minimumWipeAppVersion": None, "printBlocked": True,
         "periodOfflineBeforeAccessCheck": "PT12H", "periodOfflineBeforeWipeIsEnforced": "P90D",
         "isAssigned": True, "deployedAppCount": 1, "_setting": "printBlocked", "_noise": ["deployedAppCount"]}],
    "windowsInformationProtectionPolicy": [
        {"@odata.type": f"{G}windowsInformationProtectionPolicy", "enforcementLevel": "encryptAuditAndBlock",
         "enterpriseDomain": "contoso.example", "enterpriseProtectedDomainNames": [],
         "protectionUnderLockConfigRequired": False, "dataRecoveryCertificate": None,
         "revokeOnUnenrollDisabled": False, "rightsManagementServicesTemplateId": None,
         "azureRightsManagementServicesAllowed": False, "iconsVisible": True,
         "protectedApps": [{"@odata.type": f"{G}windowsInformationProtectionStoreApp", "displayName": "Teams",
                            "description": None, "publisherName": "O=Microsoft Corporation",
                            "productName": "MicrosoftTeams", "denied": False}],
         "exemptApps": [], "enterpriseNetworkDomainNames": [], "enterpriseProxiedDomains": [],
         "enterpriseIPRanges": [], "isAssigned": True, "revokeOnMdmHandoffDisabled": False,
         "mdmEnrollmentUrl": None, "windowsHelloForBusinessBlocked": False, "pinMinimumLength": 6,
         "daysWithoutContactBeforeUnenroll": 90, "_setting": "enforcementLevel"}],
    "policySet": [
        {"status": "success", "errorCode": "noError", "guidedDeploymentTags": [], "_noise": ["status"]},
    ],
    "windowsAutopilotDeploymentProfile": [
        {"@odata.type": f"{G}azureADWindowsAutopilotDeploymentProfile", "language": "os-default", "locale": "",
         "outOfBoxExperienceSettings": {"hidePrivacySettings": True, "hideEULA": True, "userType": "standard",
                                        "deviceUsageType": "singleUser", "skipKeyboardSelectionPage": True,
                                        "hideEscapeLink": True},
         "enrollmentStatusScreenSettings": None, "extractHardwareHash": True, "hardwareHashExtractionEnabled": True,
         "deviceNameTemplate": "CTS-%SERIAL%", "deviceType": "windowsPc", "enableWhiteGlove": True,
         "preprovisioningAllowed": True, "managementServiceAppId": None, "_setting": "deviceNameTemplate"},
        {"@odata.type": f"{G}activeDirectoryWindowsAutopilotDeploymentProfile", "language": "en-US", "locale": "en-US",
         "outOfBoxExperienceSettings": {"hidePrivacySettings": True, "hideEULA": True, "userType": "administrator",
                                        "deviceUsageType": "singleUser", "skipKeyboardSelectionPage": False,
                                        "hideEscapeLink": True},
         "enrollmentStatusScreenSettings": None, "extractHardwareHash": False, "hardwareHashExtractionEnabled": False,
         "deviceNameTemplate": "", "deviceType": "windowsPc", "enableWhiteGlove": False,
         "preprovisioningAllowed": False, "managementServiceAppId": None,
         "hybridAzureADJoinSkipConnectivityCheck": True, "_setting": "hybridAzureADJoinSkipConnectivityCheck"},
    ],
    "deviceEnrollmentConfiguration": [
        {"@odata.type": f"{G}deviceEnrollmentLimitConfiguration", "priority": 0,
         "deviceEnrollmentConfigurationType": "limit", "limit": 15, "_setting": "limit"},
        {"@odata.type": f"{G}windows10EnrollmentCompletionPageConfiguration", "priority": 1,
         "deviceEnrollmentConfigurationType": "windows10EnrollmentCompletionPageConfiguration",
         "showInstallationProgress": True, "blockDeviceSetupRetryByUser": False,
         "allowDeviceResetOnInstallFailure": True, "allowLogCollectionOnInstallFailure": True,
         "customErrorMessage": "Contact IT", "installProgressTimeoutInMinutes": 60,
         "allowDeviceUseOnInstallFailure": False, "selectedMobileAppIds": [],
         "trackInstallProgressForAutopilotOnly": True, "disableUserStatusTrackingAfterFirstUser": True,
         "_setting": "installProgressTimeoutInMinutes"},
        {"@odata.type": f"{G}deviceEnrollmentPlatformRestrictionsConfiguration", "priority": 2,
         "deviceEnrollmentConfigurationType": "singlePlatformRestriction",
         "iosRestriction": {"platformBlocked": False, "personalDeviceEnrollmentBlocked": True,
                            "osMinimumVersion": "16.0", "osMaximumVersion": None,
                            "blockedManufacturers": [], "blockedSkus": []},
         "_setting": "iosRestriction"},
    ],
    "appleUserInitiatedEnrollmentProfile": [
        {"platform": "iOS", "defaultEnrollmentType": "user", "priority": 1,
         "availabilityOptions": [{"profileType": "user", "profileId": None}], "_setting": "defaultEnrollmentType"},
    ],
    "windowsFeatureUpdateProfile": [
        {"featureUpdateVersion": "Windows 11, version 24H2", "deployableContentDisplayName": "Windows 11, version 24H2",
         "endOfSupportDate": "2027-10-12T00:00:00Z",
         "rolloutSettings": {"offerStartDateTimeInUTC": None, "offerEndDateTimeInUTC": None,
                             "offerIntervalInDays": None},
         "installFeatureUpdatesOptional": False, "installLatestWindows10OnWindows11IneligibleDevice": True,
         "_setting": "featureUpdateVersion"},
    ],
    "windowsQualityUpdateProfile": [
        {"expeditedUpdateSettings": {"qualityUpdateRelease": "2026-11-11T00:00:00Z", "daysUntilForcedReboot": 2},
         "releaseDateDisplayName": "November 11, 2026 - 2026.11 B Security Updates",
         "deployableContentDisplayName": "2026.11 B", "_setting": "expeditedUpdateSettings"},
    ],
    "windowsDriverUpdateProfile": [
        {"approvalType": "manual", "deviceReporting": 120, "newUpdates": 3, "deploymentDeferralInDays": 0,
         "inventorySyncStatus": {"lastSuccessfulSyncDateTime": "2026-11-27T02:00:00Z",
                                 "driverInventorySyncState": "success"},
         "_setting": "deploymentDeferralInDays", "_noise": ["deviceReporting", "newUpdates", "inventorySyncStatus"]},
        {"approvalType": "automatic", "deviceReporting": 48, "newUpdates": 0, "deploymentDeferralInDays": 7,
         "inventorySyncStatus": {"lastSuccessfulSyncDateTime": "2026-11-27T02:00:00Z",
                                 "driverInventorySyncState": "success"},
         "_setting": "deploymentDeferralInDays", "_noise": ["deviceReporting", "newUpdates", "inventorySyncStatus"]},
    ],
    "termsAndConditions": [
        {"modifiedDateTime": "2026-01-15T08:00:00Z", "title": "Contoso acceptable use",
         "bodyText": "Use company devices responsibly.", "acceptanceStatement": "I accept", "_setting": "bodyText"},
    ],
    "intuneBrandingProfile": [
        {"isDefaultProfile": False, "displayName": "Contoso Ltd", "contactITName": "Contoso Helpdesk",
         "contactITPhoneNumber": "+1 555 0100", "contactITEmailAddress": "helpdesk@contoso.example",
         "contactITNotes": "", "privacyUrl": "https://contoso.example/privacy",
         "onlineSupportSiteUrl": "https://support.contoso.example", "onlineSupportSiteName": "Contoso support",
         "themeColor": {"r": 0, "g": 114, "b": 198}, "showLogo": True, "showDisplayNameNextToLogo": True,
         "themeColorLogo": None, "lightBackgroundLogo": None, "landingPageCustomizedImage": None,
         "customPrivacyMessage": None, "isRemoveDeviceDisabled": False, "isFactoryResetDisabled": False,
         "companyPortalBlockedActions": [], "showAzureADEnterpriseApps": False, "showOfficeWebApps": True,
         "sendDeviceOwnershipChangePushNotification": True, "enrollmentAvailability": "availableWithPrompts",
         "disableClientTelemetry": False, "_setting": "themeColor"},
        # the default profile: no profile name of its own; `displayName` is still the company's name
        {"isDefaultProfile": True, "displayName": "Contoso Ltd", "contactITName": None,
         "contactITPhoneNumber": None, "contactITEmailAddress": None, "contactITNotes": None,
         "privacyUrl": None, "onlineSupportSiteUrl": None, "onlineSupportSiteName": None,
         "themeColor": {"r": 0, "g": 0, "b": 0}, "showLogo": False, "showDisplayNameNextToLogo": False,
         "themeColorLogo": None, "lightBackgroundLogo": None, "landingPageCustomizedImage": None,
         "customPrivacyMessage": None, "isRemoveDeviceDisabled": False, "isFactoryResetDisabled": False,
         "companyPortalBlockedActions": [], "showAzureADEnterpriseApps": False, "showOfficeWebApps": False,
         "sendDeviceOwnershipChangePushNotification": False, "enrollmentAvailability": "availableWithPrompts",
         "disableClientTelemetry": False, "_null_name": True, "_setting": "themeColor"},
    ],
    "deviceCategory": [{"_setting": "description"}],
    "conditionalAccessPolicy": [
        {"templateId": None, "state": "enabledForReportingButNotEnforced", "partialEnablementStrategy": None,
         "conditions": {"userRiskLevels": [], "signInRiskLevels": [], "clientAppTypes": ["all"],
                        "servicePrincipalRiskLevels": [], "platforms": None, "locations": None, "devices": None,
                        "applications": {"includeApplications": ["All"], "excludeApplications": [],
                                         "includeUserActions": [],
                                         "includeAuthenticationContextClassReferences": []},
                        "users": {"includeUsers": ["All"], "excludeUsers": [], "includeGroups": [],
                                  "excludeGroups": ["1b6f0f52-0d6a-4a8f-9d3c-2e1f6c7b8a90"], "includeRoles": [],
                                  "excludeRoles": []}},
         "grantControls": {"operator": "OR", "builtInControls": ["mfa"], "customAuthenticationFactors": [],
                           "termsOfUse": [], "authenticationStrength": None},
         "sessionControls": None, "_no_scope_tags": True, "_setting": "state"},
    ],
    "cloudPcProvisioningPolicy": [
        {"alternateResourceUrl": None, "cloudPcGroupDisplayName": None,
         "cloudPcNamingTemplate": "CPC-%USERNAME:5%-%RAND:5%", "enableSingleSignOn": True, "gracePeriodInHours": 4,
         "imageDisplayName": "Windows 11 Enterprise + Microsoft 365 Apps 24H2",
         "imageId": "microsoftwindowsdesktop_windows-ent-cpc_win11-24h2-ent-cpc-m365", "imageType": "gallery",
         "localAdminEnabled": False, "managedBy": "windows365",
         "microsoftManagedDesktop": {"managedType": "notManaged", "profile": None},
         "provisioningType": "dedicated", "windowsSetting": {"locale": "en-US"},
         "domainJoinConfigurations": [{"domainJoinType": "azureADJoin", "regionName": "automatic",
                                       "regionGroup": "usEast", "onPremisesConnectionId": None}],
         "scopeIds": ["0"], "_no_scope_tags": True, "_setting": "gracePeriodInHours"},
    ],
    # foundations
    "roleScopeTag": [{"@odata.type": f"{G}roleScopeTag", "isBuiltIn": False, "_no_scope_tags": True}],
    "assignmentFilter": [
        {"platform": "windows10AndLater", "rule": '(device.deviceName -startsWith "LAB")',
         "assignmentFilterManagementType": "devices", "roleScopeTags": ["0"], "_no_scope_tags": True,
         # server-derived: the assignments that use the filter (moves whenever one is added elsewhere)
         "payloads": [{"payloadId": "0f9b3c2a-1d4e-4f5a-8b6c-7d8e9f0a1b2c",
                       "payloadType": "deviceConfigurationAndCompliance",
                       "groupId": "1b6f0f52-0d6a-4a8f-9d3c-2e1f6c7b8a90", "assignmentFilterType": "include"}],
         "_noise": ["payloads"], "_setting": "rule"},
        {"platform": "iOS", "rule": '(device.deviceOwnership -eq "Corporate")',
         "assignmentFilterManagementType": "devices", "roleScopeTags": ["0"], "_no_scope_tags": True,
         "_setting": "rule"},
    ],
    "notificationMessageTemplate": [
        {"defaultLocale": "en-us", "brandingOptions": "includeCompanyLogo,includeCompanyName,includeContactInformation",
         "_setting": "brandingOptions"},
    ],
    "roleDefinition": [
        {"@odata.type": f"{G}deviceAndAppManagementRoleDefinition", "isBuiltIn": False,
         "isBuiltInRoleDefinition": False,
         "rolePermissions": [{"actions": [], "resourceActions": [{
             "allowedResourceActions": ["Microsoft.Intune_DeviceConfigurations_Read",
                                        "Microsoft.Intune_DeviceCompliancePolices_Read"],
             "notAllowedResourceActions": []}]}],
         "permissions": [], "_setting": "rolePermissions"},
    ],
}
