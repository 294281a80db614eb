"""labs_support: the sandbox, checks, quizzes and progress behind the DOP-C02 course notebooks.

A notebook needs only these names:

    import labs_support as ls
    sb = ls.start_sandbox()          # the in-process AWS of this kernel (see sandbox.py)
    ls.check("cfn-templates.network")  # a lab check: PASS, or NOT YET with a hint
    ls.solution("cfn-templates.logging")  # reveal an exercise's reference solution
    ls.quiz("cfn-templates")         # the module's exam-style quiz
    ls.dashboard()                   # the learner's progress per domain
    ls.stack_summary(cfn, "network"), ls.stack_events(cfn, "network")   # a stack's state and events
    ls.stack_tree(cfn, "app"), ls.stack_timeline(cfn, "app")             # pictures of nested stacks, of events
    ls.drift_report(cfn, "app")      # the last drift check: each resource's status and property differences
    ls.scp_decision(sb, "dev", "s3:CreateBucket", region="eu-west-1")  # what AWS would decide under the SCPs
    ls.launch_fleet(sb, 10, tags={"Role": "web"}, instance_profile=ls.ssm_instance_profile(sb))  # EC2 fleet
    ls.wait_for_command(ssm, command_id), ls.fleet_status(ssm)   # Run Command: wait, and picture the fleet
    ls.why_not_managed(sb, "i-..."), ls.fast_forward(minutes=30)  # managed-node checks; lab time passes
    ls.maintenance_window_timeline(ssm, execution_id), ls.patch_compliance(ssm)  # a window run; patch compliance
    ls.emit_ec2_state_change("i-..."), ls.automation_invocations("rule")  # AWS's events, played by the sandbox
    ls.watch_instance_refresh(asg, "web")  # poll an Auto Scaling instance refresh to its end, and picture it
"""

from __future__ import annotations

import sys

# jsonschema imports rfc3987_syntax when it is installed (JupyterLab pulls it in), which builds 39 parser
# grammars at import time: ~1.7 s of every kernel start for IRI format checks the course never uses.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

from . import friendly, guard
from .checks import check
from .exercises import solution
from .fleet_views import (
    fast_forward,
    fleet_status,
    launch_fleet,
    ssm_instance_profile,
    wait_for_command,
    why_not_managed,
)
from .immutable_views import automation_invocations, emit_aws_event, emit_ec2_state_change, watch_instance_refresh
from .overview import course_map, environment_check, exam_at_a_glance
from .patching_views import maintenance_window_timeline, patch_compliance
from .pictures import stack_timeline, stack_tree
from .progress import PROGRESS_ENV_VAR, dashboard
from .quizzes import show_quiz as quiz
from .sandbox import Sandbox, current_sandbox, start_sandbox
from .scp_simulator import scp_decision
from .show import drift_report, stack_events, stack_summary
from .stackset_views import stack_set_rollout, wait_for_stack_set_operation

guard.install()
friendly.install()

__all__ = [
    "PROGRESS_ENV_VAR",
    "Sandbox",
    "automation_invocations",
    "check",
    "course_map",
    "current_sandbox",
    "dashboard",
    "drift_report",
    "emit_aws_event",
    "emit_ec2_state_change",
    "environment_check",
    "exam_at_a_glance",
    "fast_forward",
    "fleet_status",
    "launch_fleet",
    "maintenance_window_timeline",
    "patch_compliance",
    "quiz",
    "scp_decision",
    "solution",
    "ssm_instance_profile",
    "stack_events",
    "stack_set_rollout",
    "stack_summary",
    "stack_timeline",
    "stack_tree",
    "start_sandbox",
    "wait_for_command",
    "wait_for_stack_set_operation",
    "watch_instance_refresh",
    "why_not_managed",
]
