"""What every part of the function API shares: the default tenant and the settings with a
call's options on top."""

from __future__ import annotations

from typing import Any

from motadata_ai.domain.values.errors import ConfigurationError, ValidationError
from motadata_ai.domain.values.tenancy import validate_tenant_id
from motadata_ai.settings import FLAT_ALIASES, Settings

DEFAULT_TENANT = "default"
"""The tenant of objects created without one (the document's Appendix A.1 omits it)."""


def _tenant_of(tenant_id: str | None, *fallbacks: str | None) -> str:
    for candidate in (tenant_id, *fallbacks):
        if candidate is not None:
            return validate_tenant_id(candidate)
    return DEFAULT_TENANT


def _settings_with(settings: Settings | None, **overrides: Any) -> Settings:
    """``settings`` (default: from the environment) with ``overrides`` validated on top."""
    base = settings if settings is not None else Settings()
    given = {name: value for name, value in overrides.items() if value is not None}
    if not given:
        return base
    data = base.model_dump()
    options = {}  # the setting each option sets ("gateway.validation_level") -> the option's name
    for name, value in given.items():
        if name in FLAT_ALIASES:  # a flat name sets its field in the use-case's section
            section, field = FLAT_ALIASES[name]
            data[section][field] = value
            options[f"{section}.{field}"] = name
        else:
            data[name] = value
            options[name] = name
    try:
        return Settings.model_validate(data)
    except ConfigurationError as error:  # a refused option is the caller's mistake, named as given
        setting = error.setting or ""
        option = next((options[path] for path in options if setting.startswith(path)), None)
        if option is None:
            raise
        raise ValidationError(f"invalid {option}: {error}", field=option) from error
