"""Base class, registry and helpers shared by the resource models.

Owns: the ``StackResource`` base class every model here derives from, the registry
``install()`` hands to moto's template parser, CloudFormation-style physical-name
generation, and the errors a model raises when AWS would fail the resource: the resource
handler's (``ResourceHandlerError``), the schema check's (``PropertiesValidationError``,
``require``) and the already-exists check's (``AlreadyExistsError``).

Does not own: stack lifecycle (events, rollback, DeletionPolicy, asynchronous execution);
that is the lifecycle helper's ``medplum_emulator.lifecycle``.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, ClassVar

from moto.cloudformation.exceptions import (
    CloudFormationError,
    UnformattedGetAttTemplateException,
)
from moto.core.common_models import CloudFormationModel
from moto.moto_api._internal import mock_random as random

#: Every concrete model, in registration order. ``install()`` puts these in front of moto's own.
MODELS: list[type[StackResource]] = []


def register(cls: type[StackResource]) -> type[StackResource]:
    """Class decorator: makes the model visible to the template parser once installed."""
    MODELS.append(cls)
    return cls


#: moto models that have no delete of their own, with the function ``install()`` attaches
#: as their ``delete(account_id, region_name)`` (what moto's stack delete calls first).
MOTO_DELETES: list[tuple[type, Callable[[Any, str, str], None]]] = []


def deletes(moto_model: type) -> Callable[[Callable[[Any, str, str], None]], Any]:
    """Function decorator: ``fn(resource, account_id, region_name)`` deletes a resource of
    moto's ``moto_model`` from its backend. Without one, moto's stack delete silently skips
    the resource and it stays in the backend (and, for VPC pieces, blocks the VPC's delete)."""

    def decorator(fn: Callable[[Any, str, str], None]) -> Callable[[Any, str, str], None]:
        MOTO_DELETES.append((moto_model, fn))
        return fn

    return decorator


#: Other patches of moto models, run by ``install()`` (module import must not patch moto).
ON_INSTALL: list[Callable[[], None]] = []


def on_install(fn: Callable[[], None]) -> Callable[[], None]:
    ON_INSTALL.append(fn)
    return fn


def attach_moto_deletes() -> None:
    for moto_model, fn in MOTO_DELETES:

        def delete(self: Any, account_id: str, region_name: str, fn: Any = fn) -> None:
            # As in StackResource.delete: moto would take TypeError/AttributeError for "no
            # instance delete" and skip the resource.
            try:
                fn(self, account_id, region_name)
            except (TypeError, AttributeError) as error:
                raise RuntimeError(f"{type(self).__name__}: {error!r}") from error

        moto_model.delete = delete


class ResourceHandlerError(CloudFormationError):
    """A resource that AWS would mark CREATE_FAILED / UPDATE_FAILED / DELETE_FAILED.

    The message follows CloudFormation's resource-status-reason wording so that whatever
    reports it (today the CreateStack response, later the lifecycle helper's events) reads
    like AWS.
    """

    code = "ValidationError"

    def __init__(self, message: str, service: str, status: int = 400):
        super().__init__(
            f'Resource handler returned message: "{message} '
            f'(Service: {service}, Status Code: {status})"'
        )


class PropertiesValidationError(CloudFormationError):
    """A property value CloudFormation's schema check refuses before any service is called
    (a required property missing, a value outside the type's enum)."""

    code = "ValidationError"

    def __init__(self, logical_id: str, message: str):
        super().__init__(
            f"Properties validation failed for resource {logical_id} with message: {message}"
        )


class AlreadyExistsError(CloudFormationError):
    """The resource handler found an object with the physical id it was about to create
    (CloudFormation refuses to take over what the account already has)."""

    code = "ValidationError"

    def __init__(self, cfn_type: str, identifier: str):
        super().__init__(
            f"Resource of type '{cfn_type}' with identifier '{identifier}' already exists."
        )


@dataclass(frozen=True)
class Context:
    """Where a resource lives; moto passes these piecemeal, the models want them together."""

    account_id: str
    region_name: str
    stack_id: str
    logical_id: str

    @property
    def stack_name(self) -> str:
        # arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>
        return self.stack_id.split("/")[1]

    @property
    def partition(self) -> str:
        return "aws-cn" if self.region_name.startswith("cn-") else "aws"


def require(ctx: Context, properties: dict[str, Any], *keys: str) -> None:
    """Fails like CloudFormation's schema check when a required property is absent."""
    for key in keys:
        if properties.get(key) in (None, "", []):
            raise PropertiesValidationError(ctx.logical_id, f"#: required key [{key}] not found")


def as_bool(value: Any) -> bool:
    """A template boolean: ``true`` or the string ``"true"`` (parameters are strings)."""
    return value is True or str(value).lower() == "true"


def generated_name(
    ctx: Context, max_length: int, lowercase: bool = False, separator: str = "-"
) -> str:
    """A physical name shaped like the ones CloudFormation generates.

    CloudFormation builds ``<stack name>-<logical id>-<random>`` and, when that is too long
    for the service, shortens the stack-name and logical-id parts rather than the random
    part, so names stay unique. Services with lowercase-only identifiers (RDS, ElastiCache)
    get the whole name lowercased.
    """
    alphabet = string.ascii_lowercase if lowercase else string.ascii_uppercase
    suffix = "".join(random.choice(alphabet + string.digits) for _ in range(12))
    stack, logical = ctx.stack_name, ctx.logical_id
    budget = max_length - len(suffix) - 2 * len(separator)
    if len(stack) + len(logical) > budget:
        # Split the budget, giving the logical id (the more informative part) at least half.
        logical = logical[: max(budget // 2, budget - len(stack))]
        stack = stack[: budget - len(logical)]
    name = separator.join(part for part in (stack, logical, suffix) if part)
    if lowercase:
        name = name.lower()
    # Several services reject consecutive hyphens; stack names may end in one.
    return re.sub(r"-{2,}", "-", name)


class StackResource(CloudFormationModel):
    """Common plumbing between moto's parser and one model.

    Subclasses set ``CFN_TYPE`` (and ``NAME_PROPERTY`` when the type has a name property
    that, when absent, CloudFormation fills with a generated name), and implement
    ``create``, ``delete_resource``, ``physical_resource_id`` and ``attributes``. The default
    update is a replacement; types AWS updates in place override ``update``.
    """

    CFN_TYPE: ClassVar[str]
    NAME_PROPERTY: ClassVar[str] = ""
    #: Attributes Fn::GetAtt may read. ``attributes()`` must return a value for each.
    ATTRIBUTES: ClassVar[tuple[str, ...]] = ()

    ctx: Context
    properties: dict[str, Any]

    # --- moto's CloudFormationModel interface -------------------------------------------

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.CFN_TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> StackResource:
        ctx = Context(account_id, region_name, kwargs["StackId"], kwargs["LogicalId"])
        return cls._create(ctx, resource_name, cloudformation_json)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
        cls,
        original_resource: StackResource,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> StackResource:
        # moto passes neither the stack id nor the logical id on update: reuse the original's.
        return original_resource.update(
            new_resource_name, cloudformation_json.get("Properties") or {}
        )

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        # Only reached when delete() raised TypeError/AttributeError (see ResourceMap
        # ._delete_resource); by then the instance method has already reported the bug.
        raise RuntimeError(f"{cls.CFN_TYPE} {resource_name}: delete failed")

    def delete(self, account_id: str, region_name: str) -> None:
        # moto treats TypeError/AttributeError from delete() as "no instance delete, try the
        # class method"; re-raise them as something else so a bug in a model is not hidden.
        try:
            self.delete_resource()
        except (TypeError, AttributeError) as error:
            raise RuntimeError(f"{self.CFN_TYPE} {self.physical_resource_id}: {error!r}") from error

    def is_created(self) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.ATTRIBUTES:
            raise UnformattedGetAttTemplateException()
        return self.attributes()[attribute_name]

    # --- what subclasses implement -----------------------------------------------------

    @classmethod
    def _create(
        cls, ctx: Context, resource_name: str, cloudformation_json: dict[str, Any]
    ) -> StackResource:
        resource = cls.create(ctx, resource_name, cloudformation_json.get("Properties") or {})
        resource.ctx = ctx
        return resource

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> StackResource:
        """Creates the object in the backing service. ``name`` is the name property's value
        or a generated name (see ``resource_name``)."""
        raise NotImplementedError

    @classmethod
    def resource_name(cls, ctx: Context, name: str, properties: dict[str, Any]) -> str:
        """The physical name to use: the template's value or one CloudFormation would make.

        moto's own generated ``name`` ignores service naming rules; models with such rules
        override ``generated``."""
        if cls.NAME_PROPERTY and properties.get(cls.NAME_PROPERTY):
            return str(properties[cls.NAME_PROPERTY])
        return cls.generated(ctx)

    @classmethod
    def generated(cls, ctx: Context) -> str:
        return generated_name(ctx, max_length=128)

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        """Default: replacement. CloudFormation creates the replacement, then deletes the
        original during cleanup; a custom-named replacement would collide with itself, and
        AWS refuses those updates, so we do too."""
        if (
            self.NAME_PROPERTY
            and properties.get(self.NAME_PROPERTY)
            and properties.get(self.NAME_PROPERTY) == self.properties.get(self.NAME_PROPERTY)
        ):
            raise ResourceHandlerError(
                f"CloudFormation cannot update a stack when a custom-named resource requires "
                f"replacing. Rename {self.properties[self.NAME_PROPERTY]} and update the stack "
                f"again.",
                service="CloudFormation",
            )
        replacement = type(self)._create(
            self.ctx, new_name, {"Properties": properties}
        )
        self.delete_resource()
        return replacement

    def delete_resource(self) -> None:
        raise NotImplementedError

    @property
    def physical_resource_id(self) -> str:
        raise NotImplementedError

    def attributes(self) -> dict[str, Any]:
        return {}
