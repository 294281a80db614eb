"""EC2 Image Builder in the sandbox: moto 5.2.5 has no imagebuilder backend, so this package is one.

`sb.client("imagebuilder")` answers components, image recipes, infrastructure and distribution configurations,
image pipelines and images with AWS's request and response shapes; a build runs on the lab clock and leaves real
AMIs in the sandbox's EC2 (and launch template versions, and Parameter Store parameters) as AWS's would.

Patches against moto 5.2.5 (install()):
* `moto.backend_index.backend_url_patterns` gets ("imagebuilder", https://imagebuilder.<region>.amazonaws.com):
  moto's botocore stubber walks this list to find the service of a request.
* `moto.backends.get_backend` is wrapped to return `imagebuilder_backends` (a moto BackendDict of our
  ImageBuilderBackend, a BaseBackend) for "imagebuilder"; moto's own get_backend imports `moto.<service>`, which
  does not exist. The backend's `urls` route every path to ImageBuilderResponse (a BaseResponse), whose
  operations moto routes, parses and serializes from botocore's imagebuilder model.
Being a BackendDict, the service's data is dropped with the rest of moto's when a sandbox starts or resets.

Modules: naming.py (ARNs, semantic versions), documents.py (component documents), resources.py (the resources
and their response shapes), service.py (the backend: checks and dependencies), builds.py (a build on the lab
clock, distribution), api.py (the actions), errors.py (AWS's error shapes and wordings).

Behaviour, with its sources (https://docs.aws.amazon.com/imagebuilder/latest/userguide/):
* Semantic versions major.minor.patch/build (ibhow-semantic-versioning.html): you assign the first three, Image
  Builder numbers builds 1, 2, 3...; a wildcard x selects the latest version; create and get answers carry
  latestVersionReferences. Creating a component again with the same name and version adds a build when the
  document differs (AWS's auto-versioning, November 2025) and is refused with ResourceAlreadyExistsException when
  it is identical. A recipe version exists once (ResourceAlreadyExistsException).
* Component documents are checked at creation; the component type is TEST for a document with only a test
  phase, BUILD otherwise (create-component-yaml.html); see documents.py for the deterministic failure trigger.
* A recipe's parent image is an AMI id that exists in EC2 in that Region, `ssm:<parameter>` holding one, or an
  image of yours; the recipe's platform is the AMI's; its components must exist and match that platform, and
  component parameters must be declared by the component (InvalidParameterCombinationException, AWS's wording).
* An infrastructure configuration needs an existing IAM instance profile. A distribution configuration's AMI
  name must contain {{ imagebuilder:buildDate }} (AWS's check and wording); ssmParameterConfigurations name a
  parameter (pattern ^[a-zA-Z0-9_.\\-\\/]+$) and dataType text or aws:ec2:image (API_SsmParameterConfiguration).
* Deleting a component used by a recipe, a recipe used by a pipeline, a configuration used by a pipeline or an
  image used as a recipe's parent is refused with ResourceDependencyException (AWS's wording). DeleteImage does
  not deregister the AMIs (as on AWS).

Simplified (for design.md's "Known differences"): no build or test instance is launched (instanceTypes, subnet,
security groups, key pair, logging and SNS topic are stored only); components are not executed, a step fails only
by the trigger in documents.py; schedules are stored and never run, and neither are lifecycle policies,
workflows, image scanning, container recipes, Amazon-managed components or images, S3 export or Fast Launch
(refused with SandboxNotSupported where a request asks for them); IAM permissions and execution roles are not
checked; clientToken idempotency is not enforced; the build Region always gets an AMI even when the distribution
configuration does not list it; the build date in AMI names is formatted YYYY-MM-DDTHH-MM-SS.mmmZ and
{{ imagebuilder:buildVersion }} becomes the build number (AWS does not document either format).
"""

from __future__ import annotations

import re
from typing import Any

from .service import imagebuilder_backends

SERVICE = "imagebuilder"
_installed = False


def install() -> None:
    """Register the imagebuilder service with moto's request routing (idempotent)."""
    global _installed
    if _installed:
        return
    import moto.backend_index as backend_index
    import moto.backends as moto_backends

    if all(service != SERVICE for service, _ in backend_index.backend_url_patterns):
        backend_index.backend_url_patterns.append((SERVICE, re.compile(r"https?://imagebuilder\.(.+)\.amazonaws\.com")))
    original = moto_backends.get_backend

    def get_backend(name: Any) -> Any:
        return imagebuilder_backends if name == SERVICE else original(name)

    moto_backends.get_backend = get_backend  # type: ignore[assignment]
    _installed = True
