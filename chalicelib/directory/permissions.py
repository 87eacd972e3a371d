"""Who may do what (SPEC "Who may do what"), as a few readable rules.

Order matters and is the same everywhere:
  1. anything of another agency              -> 404 (no existence leaks)
  2. Labs off for the agency (integrations)   -> 403 telling an admin to enable it in Labs
  3. the user lacks the flag / the location   -> 403

  owner of the integration | needs
  -------------------------+-------------------------------------------------------------
  agency                   | an agency user with the `agency` flag
  location                 | the `subAccount` flag, and (an agency user, or an account
                           | user whose locationIds include that location)
  flags and Labs           | an agency admin (type agency, role admin)

Viewing integrations and their events needs the same permission as managing them: tokens' scopes
and audit trails are as sensitive as the integrations themselves.
"""

from __future__ import annotations

from chalicelib.core.errors import LABS_OFF_MESSAGE, Forbidden, NotFound
from chalicelib.core.vocabulary import Owner, OwnerType, UserType
from chalicelib.directory.accounts import effective_flags, is_agency_admin
from chalicelib.directory.models import AgencyModel, UserModel


def require_same_agency(user: UserModel, agency_id: str, not_found_message: str) -> None:
    if user.agency_id != agency_id:
        raise NotFound(not_found_message)


def require_labs_on(agency: AgencyModel) -> None:
    if not agency.labs_private_integrations:
        raise Forbidden(LABS_OFF_MESSAGE)


def can_manage(user: UserModel, owner: Owner) -> bool:
    """The rule table above, rows 'agency' and 'location', for a user of the owner's agency."""
    flags = effective_flags(user)
    if owner.type == OwnerType.AGENCY:
        return user.type == UserType.AGENCY and flags.agency
    if not flags.sub_account:
        return False
    return user.type == UserType.AGENCY or owner.id in (user.location_ids or [])


def require_manage(user: UserModel, owner: Owner, agency: AgencyModel, not_found_message: str) -> None:
    require_same_agency(user, owner.agency_id, not_found_message)
    require_labs_on(agency)
    if not can_manage(user, owner):
        what = "agency" if owner.type == OwnerType.AGENCY else "sub-account"
        raise Forbidden(
            f"You do not have permission to manage {what} Private Integrations here; "
            "ask an agency admin to grant it."
        )


def require_agency_admin(
    user: UserModel,
    agency_id: str,
    refused: str = "Only agency admins can change permissions and Labs settings.",
) -> None:
    """An agency admin of that agency (404 for another agency, 403 with `refused` otherwise)."""
    require_same_agency(user, agency_id, f"Agency '{agency_id}' was not found.")
    if not is_agency_admin(user):
        raise Forbidden(refused)
