"""Systems Manager Compliance: per-node items of a compliance type, and the summaries built from them.

https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-compliance.html
Types: "Association" (State Manager writes one item per association on each run), "Patch" (Patch Manager's
Scan/Install) and "Custom:<name>" (PutComplianceItems). Items are COMPLIANT or NON_COMPLIANT with a severity
(CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNSPECIFIED). A COMPLETE upload replaces every item of that type on
the node; a node is NON_COMPLIANT for a type if any item is, and its overall severity is the worst one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .backend import FleetBackend

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNSPECIFIED")


def record(
    fleet: FleetBackend,
    resource_id: str,
    compliance_type: str,
    items: list[dict[str, Any]],
    execution: dict[str, Any],
    upload_type: str = "COMPLETE",
) -> None:
    """Store a node's items of one type (COMPLETE replaces them all, PARTIAL replaces by item Id)."""
    with fleet.lock:
        by_type = fleet.compliance.setdefault(resource_id, {})
        if upload_type == "PARTIAL":
            kept = {i["Id"]: i for i in by_type.get(compliance_type, [])}
            kept.update({i["Id"]: i for i in items})
            by_type[compliance_type] = list(kept.values())
        else:
            by_type[compliance_type] = list(items)
        fleet.compliance_meta[(resource_id, compliance_type)] = execution


def items_of(fleet: FleetBackend, resource_id: str, compliance_type: str) -> list[dict[str, Any]]:
    return list(fleet.compliance.get(resource_id, {}).get(compliance_type, []))


def item_to_api(fleet: FleetBackend, resource_id: str, compliance_type: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "ComplianceType": compliance_type,
        "ResourceType": "ManagedInstance",
        "ResourceId": resource_id,
        "Id": item.get("Id", ""),
        "Title": item.get("Title", ""),
        "Status": item["Status"],
        "Severity": item.get("Severity", "UNSPECIFIED"),
        "ExecutionSummary": fleet.compliance_meta.get((resource_id, compliance_type), {}),
        "Details": item.get("Details", {}),
    }


def _summary(items: list[dict[str, Any]], status: str) -> dict[str, Any]:
    chosen = [i for i in items if i["Status"] == status]
    counts = {s: sum(1 for i in chosen if i.get("Severity", "UNSPECIFIED") == s) for s in SEVERITIES}
    key = "CompliantCount" if status == "COMPLIANT" else "NonCompliantCount"
    return {
        key: len(chosen),
        "SeveritySummary": {f"{s.title()}Count": n for s, n in counts.items()},
    }


def resource_summary(fleet: FleetBackend, resource_id: str, compliance_type: str) -> dict[str, Any]:
    items = items_of(fleet, resource_id, compliance_type)
    non = [i for i in items if i["Status"] == "NON_COMPLIANT"]
    ranked = non or items  # the highest severity found for the resource (of its non-compliant items first)
    worst = next((s for s in SEVERITIES if any(i.get("Severity") == s for i in ranked)), "UNSPECIFIED")
    return {
        "ComplianceType": compliance_type,
        "ResourceType": "ManagedInstance",
        "ResourceId": resource_id,
        "Status": "NON_COMPLIANT" if non else "COMPLIANT",
        "OverallSeverity": worst,
        "ExecutionSummary": fleet.compliance_meta.get((resource_id, compliance_type), {}),
        "CompliantSummary": _summary(items, "COMPLIANT"),
        "NonCompliantSummary": _summary(items, "NON_COMPLIANT"),
    }


def _filter_ok(values: dict[str, str], filters: list[dict[str, Any]]) -> bool:
    for f in filters:
        actual = values.get(f["Key"])
        wanted = f.get("Values", [])
        kind = f.get("Type", "EQUAL")
        if actual is None:
            continue
        if kind == "EQUAL" and actual not in wanted:
            return False
        if kind == "NOT_EQUAL" and actual in wanted:
            return False
        if kind == "BEGIN_WITH" and not any(actual.startswith(w) for w in wanted):
            return False
    return True


def list_items(
    fleet: FleetBackend, resource_ids: list[str] | None, filters: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    out = []
    for resource_id, by_type in list(fleet.compliance.items()):
        if resource_ids and resource_id not in resource_ids:
            continue
        for compliance_type, items in list(by_type.items()):
            for item in items:
                values = {
                    "ComplianceType": compliance_type,
                    "Status": item["Status"],
                    "Severity": item.get("Severity", "UNSPECIFIED"),
                    "ResourceId": resource_id,
                    "ResourceType": "ManagedInstance",
                }
                if _filter_ok(values, filters):
                    out.append(item_to_api(fleet, resource_id, compliance_type, item))
    return out


def resource_summaries(fleet: FleetBackend, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for resource_id, by_type in list(fleet.compliance.items()):
        for compliance_type in list(by_type):
            summary = resource_summary(fleet, resource_id, compliance_type)
            values = {
                "ComplianceType": compliance_type,
                "Status": summary["Status"],
                "OverallSeverity": summary["OverallSeverity"],
                "ResourceId": resource_id,
            }
            if _filter_ok(values, filters):
                out.append(summary)
    return out


def summaries(fleet: FleetBackend, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for summary in resource_summaries(fleet, filters):
        by_type.setdefault(summary["ComplianceType"], []).append(summary)
    out = []
    for compliance_type, resources in by_type.items():
        compliant = [r for r in resources if r["Status"] == "COMPLIANT"]
        non = [r for r in resources if r["Status"] == "NON_COMPLIANT"]
        out.append(
            {
                "ComplianceType": compliance_type,
                "CompliantSummary": {
                    "CompliantCount": len(compliant),
                    "SeveritySummary": _severity_counts(compliant),
                },
                "NonCompliantSummary": {
                    "NonCompliantCount": len(non),
                    "SeveritySummary": _severity_counts(non),
                },
            }
        )
    return out


def _severity_counts(resources: list[dict[str, Any]]) -> dict[str, int]:
    return {f"{s.title()}Count": sum(1 for r in resources if r["OverallSeverity"] == s) for s in SEVERITIES}


def execution_summary(at: datetime, execution_id: str, execution_type: str = "Command") -> dict[str, Any]:
    return {"ExecutionTime": at, "ExecutionId": execution_id, "ExecutionType": execution_type}


# -- API ---------------------------------------------------------------------------------------------------
def install() -> None:
    from . import api

    def put_compliance_items(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        summary = api.param(self, "ExecutionSummary") or {}
        compliance_type = api.param(self, "ComplianceType")
        if not (compliance_type.startswith("Custom:") or compliance_type in ("Association", "Patch")):
            raise api.SsmError("ComplianceTypeCountLimitExceededException", "")
        items = [
            {
                "Id": i.get("Id", ""),
                "Title": i.get("Title", ""),
                "Severity": i["Severity"],
                "Status": i["Status"],
                "Details": i.get("Details", {}),
            }
            for i in api.param(self, "Items", [])
        ]
        record(
            fleet,
            api.param(self, "ResourceId"),
            compliance_type,
            items,
            {
                "ExecutionTime": summary.get("ExecutionTime"),
                "ExecutionId": summary.get("ExecutionId", ""),
                "ExecutionType": summary.get("ExecutionType", ""),
            },
            api.param(self, "UploadType", "COMPLETE"),
        )
        return {}

    def list_compliance_items(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        found = list_items(fleet, api.param(self, "ResourceIds"), api.param(self, "Filters", []) or [])
        return api.page(found, self, "ComplianceItems", 10)

    def list_resource_compliance_summaries(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        found = resource_summaries(fleet, api.param(self, "Filters", []) or [])
        return api.page(found, self, "ResourceComplianceSummaryItems")

    def list_compliance_summaries(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        return api.page(summaries(fleet, api.param(self, "Filters", []) or []), self, "ComplianceSummaryItems")

    for handler in (
        put_compliance_items,
        list_compliance_items,
        list_resource_compliance_summaries,
        list_compliance_summaries,
    ):
        api.register(handler.__name__, handler)
