"""The review workflow as a pure state machine: which action, by which role, moves a track where.

    machine --save--> draft --send--> in_review --approve--> approved --publish--> published
       |                ^                 |                      |
       |                +-----return------+                      |
       +--send--> in_review   (a reviewer may approve the machine output as it is)
    any state but published --publish_unreviewed--> published   (reviewer or staff; logged by the caller)
    save in any state gives draft, except in_review, which stays in review (a reviewer's own fixes)

Roles: translator (save, send, publish an approved track), reviewer and staff (all of
that, plus approve, return, publish_unreviewed). Approving needs a second person: the
approver must not be the last human author of the version under review. Nothing here
touches storage or the database; the app records the new state and the audit entry.
"""

from __future__ import annotations

from medialib.errors import ConflictError, InputError, PermissionDenied

STATES = ("machine", "draft", "in_review", "approved", "published")
ACTIONS = ("save", "send", "approve", "return", "publish", "publish_unreviewed")
ROLES = ("translator", "reviewer", "staff")

# action -> (states it may start from, roles allowed)
_RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "save": (STATES, ROLES),
    "send": (("machine", "draft"), ROLES),
    "approve": (("in_review",), ("reviewer", "staff")),
    "return": (("in_review",), ("reviewer", "staff")),
    "publish": (("approved",), ROLES),
    "publish_unreviewed": (("machine", "draft", "in_review", "approved"), ("reviewer", "staff")),
}


class InvalidTransition(ConflictError):
    """The action does not apply in the track's current state (e.g. approve a draft not sent for review)."""


def _check_names(state: str, action: str, role: str) -> None:
    if state not in STATES:
        raise InputError(f"unknown review state {state!r}; one of {', '.join(STATES)}")
    if action not in ACTIONS:
        raise InputError(f"unknown review action {action!r}; one of {', '.join(ACTIONS)}")
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; one of {', '.join(ROLES)}")


def next_state(state: str, action: str, *, role: str, actor: str, last_author: str | None = None) -> str:
    """The state after actor (with role) does action; PermissionDenied or InvalidTransition otherwise.

    last_author: the user who saved the newest human version (None when only the machine
    has written), checked for approve.
    """
    _check_names(state, action, role)
    starts, roles = _RULES[action]
    if role not in roles:
        who = " or ".join(roles)
        raise PermissionDenied(f"{actor} is a {role}; only a {who} may {action.replace('_', ' ')} a track")
    if state not in starts:
        raise InvalidTransition(f"cannot {action.replace('_', ' ')} a track that is {state.replace('_', ' ')}; "
                                f"that needs a track that is {' or '.join(s.replace('_', ' ') for s in starts)}")
    if action == "approve" and last_author and last_author == actor:
        raise PermissionDenied(f"{actor} wrote the version under review and cannot approve it; "
                               "another reviewer must approve it")
    if action == "save":
        return "in_review" if state == "in_review" else "draft"
    return {"send": "in_review", "approve": "approved", "return": "draft", "publish": "published",
            "publish_unreviewed": "published"}[action]


def allowed_actions(state: str, *, role: str, actor: str, last_author: str | None = None) -> tuple[str, ...]:
    """The actions this user may take now, in ACTIONS order (for buttons in the app)."""
    out = []
    for action in ACTIONS:
        try:
            next_state(state, action, role=role, actor=actor, last_author=last_author)
        except (PermissionDenied, InvalidTransition):
            continue
        out.append(action)
    return tuple(out)
