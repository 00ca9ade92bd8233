"""CloudFormation models for the resource types the Medplum stacks use and moto lacks.

``install()`` must run before the first stack is parsed. It imports the model modules
(each registers its classes in ``_common.MODELS``) and then makes moto's template parser
(``moto.cloudformation.parsing``) use them:

* ``parsing.get_model_list`` normally returns ``CloudFormationModel.__subclasses__()`` and is
  ``lru_cache``d, so it would neither see our models (they derive from ``StackResource``, not
  directly from ``CloudFormationModel``) nor reliably override moto's models for the same
  type. It is replaced by a function that lists ours first and drops moto's for the types we
  own, and the cached type maps built from it by uncached ones.
* ``parsing.parse_resource`` is wrapped so that ``{{resolve:...}}`` dynamic references are
  resolved after moto has resolved the intrinsic functions, as CloudFormation does.
* moto models of types the templates use that cannot delete themselves (VPC pieces, ECS,
  ELBv2 listeners and target groups) get a ``delete`` (``_common.deletes``).
* Small patches registered with ``_common.on_install``: moto's ELBv2 load balancer answers
  the GetAtt attributes it leaves unimplemented, GetDistribution returns an S3 origin's
  ``S3OriginConfig``, and ``Custom::`` types use ``custom.CustomResource``, which does not
  invoke a Lambda function.
* moto's cloudfront service gets GetCloudFrontOriginAccessIdentity and
  ListCloudFrontOriginAccessIdentities (``api.py``), which moto lacks.

Calling ``install()`` twice is harmless. What is and is not modelled is in
``tests/emulator/RESOURCES.md``.
"""

import importlib

_MODEL_MODULES = (
    "applicationautoscaling",
    "cdk",
    "cloudfront",
    "cloudtrail",
    "cloudwatch",
    "custom",
    "ec2",
    "ecs",
    "elasticache",
    "elbv2",
    "guardduty",
    "logs",
    "rds",
    "rdsproxy",
    "route53",
    "s3",
    "secretsmanager",
    "sesv2",
    "sns",
    "ssm",
    "wafv2",
)

_installed = False


def install() -> None:
    """Registers the models with moto's CloudFormation parser."""
    global _installed
    if _installed:
        return
    for module in _MODEL_MODULES:
        importlib.import_module(f"{__name__}.{module}")

    from moto.cloudformation import parsing

    from . import _common, api, dynamic_references

    own_types = {model.CFN_TYPE for model in _common.MODELS}

    def get_model_list() -> list:
        # Not cached: moto's server imports service modules lazily, so the subclass list can
        # still grow after the first stack.
        return list(_common.MODELS) + [
            model
            for model in parsing.CloudFormationModel.__subclasses__()
            if model is not _common.StackResource
            and model.cloudformation_type() not in own_types
        ]

    parsing.get_model_list = get_model_list
    # Also uncached, for the same reason; both call get_model_list through the module global.
    parsing.get_model_map = lambda: {m.cloudformation_type(): m for m in get_model_list()}
    parsing.get_name_type_map = lambda: {
        m.cloudformation_type(): m.cloudformation_name_type() for m in get_model_list()
    }
    _common.attach_moto_deletes()
    for patch in _common.ON_INSTALL:
        patch()
    dynamic_references.install(parsing)
    api.install()
    _installed = True
